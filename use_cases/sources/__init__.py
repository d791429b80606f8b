"""Synced sources: named origins of documents (a folder, a bucket, a website) re-read on demand
or on a schedule, their additions, changes and deletions carried into the knowledge base."""
