"""Adapters of the evaluation ports: model prices, the LLM judge, run stores and reports."""
