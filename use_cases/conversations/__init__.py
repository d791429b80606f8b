"""Conversations: imported and native chats, their summaries, files, search and drafts."""
