"""Synced sources' adapters: the readers of each kind (a folder, an S3 bucket), their registry
(`almanac.sources` entry points), and the store of sources, item versions and sync history."""
