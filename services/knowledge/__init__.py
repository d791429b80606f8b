"""Adapters of the knowledge ports: documents in, passages out.

Loaders (`DocumentLoader`) read files, `chunking` splits them (`Chunker`), `embedders`
(`Embedder`) turn chunks into vectors, and the knowledge database keeps them
(`KnowledgeStore`): `store` with `schema` on SQLite (FTS5, sqlite-vec, `vector_index`),
`pg_store` on PostgreSQL (tsvector, pgvector), both built on `sql_store`, `document_writes`
and `dialect`, where what is the same SQL on both is written once. `retrieval` (`Retriever`)
ranks passages with `lexical`/`fts_query`, dense search, `rrf` and `versions`; `reranker`
(`Reranker`) reorders them with Cohere; `spelling` corrects query terms.
"""
