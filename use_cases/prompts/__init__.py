"""Prompts and models: system prompt versions, default models, prompt templates."""
