"""The knowledge base: ingesting documents, listing and removing them, searching them."""
