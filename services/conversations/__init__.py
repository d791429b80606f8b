"""Adapters of the conversation features (`use_cases/conversations`)."""
