"""Adapters of the admin-managed stores in the app database: `api_key_store` (`ApiKeyStore`),
`audit_log` (`AuditLog`), `prompt_store` (`PromptStore`) and `model_default_store`
(`ModelDefaultStore`)."""
