"""Adapters of the admin-managed stores in the app database: `api_key_store` (`ApiKeyStore`),
`audit_log` (`AuditLog`), `prompt_store` (`PromptStore`), `prompt_library_store`
(`PromptLibraryStore`: projects, use cases, named prompts) and `model_default_store`
(`ModelDefaultStore`)."""
