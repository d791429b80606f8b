"""Conversations: imports, summaries, attached files, search and project drafts (issue 28)."""
