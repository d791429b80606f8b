"""Access: callers and roles, API keys and web sessions, the audit log."""
