"""Adapters of the knowledge ports: documents in, passages out.

Loaders (`DocumentLoader`) read files, `chunking` splits them (`Chunker`), `embedders`
(`Embedder`) turn chunks into vectors, `store` with `schema` and `document_writes` keeps them in
the knowledge database (`KnowledgeStore`: FTS5, sqlite-vec, `vector_index`), and `retrieval`
(`Retriever`) ranks passages with `lexical`/`fts_query`, dense search, `rrf` and `versions`;
`reranker` (`Reranker`) reorders them with Cohere; `spelling` corrects query terms.
"""
