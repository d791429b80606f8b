"""Structured advice: one `StructuredAdvice` per conversation, and advice threads."""
