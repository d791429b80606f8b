"""Conversations: imported chats, their summaries, attached files, search and project drafts."""
