"""Adapters of the table ports: `loader` loads CSV/TSV/JSON Lines files into the tables
database (`TableLoader`), `sql_sandbox` runs the model's read-only SQL on it (`SqlRunner`)."""
