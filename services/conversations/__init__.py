"""Adapters of the conversation features (issue 28)."""
