"""Admin actions on the knowledge base and the tables: checked, audited, uploaded."""
