"""Conversations: imported chats, their summaries, files, search and project drafts."""
