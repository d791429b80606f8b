"""Adapters of conversations: importers, summaries, files, search and project drafts."""
