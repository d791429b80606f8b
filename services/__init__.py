"""Adapters: the implementations of the ports in `use_cases/<feature>/ports.py`, grouped by port.

    knowledge/    documents in, passages out: loaders/, chunking, embedders/, the knowledge
                  store (sql_store, dialect, document_writes: one SQL for both; store
                  and schema on SQLite, pg_store on PostgreSQL), retrieval (hybrid: one
                  retriever over index ports; the SQLite indexes in retrieval, lexical,
                  resident_bm25, vector_index; the PostgreSQL ones in pg_retrieval;
                  search_catalog, one SQL for both; fts_query, rrf, versions, spelling) and
                  the Cohere reranker
    tables/       structured tables: loader (CSV/TSV/JSONL into tables.db or PostgreSQL's
                  tables schema, one loader for both), sql_sandbox and pg_sql_sandbox
                  (each engine's read-only boundary; sql_runner: what they share)
    chat/         a chat turn's adapters: history_store (users, chats, messages),
                  models (model resolver), web_search (pluggable provider)
    admin/        admin-managed stores in app.db: api_key_store, audit_log, prompt_store,
                  model_default_store
    calibration/  response log, calibration store, fitter and reliability diagram
    offline/      the embedded default model (a PydanticAI FunctionModel)
    cleaning/     data-cleaning benchmarks: tables (clean tables on disk), offline_cleaner
                  (the rule-based default), agent_cleaner (a PydanticAI agent; its SQL tool
                  reads a throw-away in-memory copy of one task's table, not a store),
                  cleaners (which cleaner a model names), store (tasks, runs, results; one
                  SQL for both databases), report (the HTML report)
    evaluation/   evaluation runs' store, the LLM judge, model prices, the HTML run report
    conversations/ the conversation features' stores (drafts, summaries, attached files and
                  their bytes), the chat and file search indexes, the share-link fetcher,
                  the export-file formats, the import jobs, the image reader
    observability/ Prometheus metrics, OpenTelemetry tracing, the timed retriever
    database_copy/ `almanac db copy`: an SQLite installation into an empty PostgreSQL
                  database (reads the SQLite files, writes with COPY, compares searches)
    sql/          `SqlDb`: one store written once for SQLite and PostgreSQL (placeholders,
                  transactions, rows by name, times and JSON per dialect)
    sqlite/       the one SQLite connection policy: connection, migrations,
                  thread_connections; every SQLite store opens its connections through it
    clock.py, job_queue.py, job_store.py, presence.py, compute.py, budgets.py,
    parse_pool.py, redis_buckets.py
                  process-wide runtime adapters with no package of their own (job_store:
                  the jobs table, one store for SQLite and PostgreSQL; presence: which
                  processes are alive; compute: the worker pool for CPU-heavy answering;
                  budgets and parse_pool: what reading one input may cost; redis_buckets:
                  rate-limit buckets in Redis)

The port packages (knowledge, tables, chat, admin, calibration, cleaning, evaluation,
conversations, observability) import only the shared runtime below them (`sql/`, `sqlite/`,
`postgres/`, `budgets`, `presence`, ...) and `use_cases`, never each other, except the ten
imports of `conversations/` that pyproject.toml declares; `offline/` sits above them and reuses
the text helpers of `knowledge/` (`fts_query`, `spelling`) and `tables.loader.quote_identifier`.
`database_copy/` moves every store's rows, so it reads the table lists and retrievers of
`knowledge/`, `tables/`, `admin/` and `conversations/`. The import-linter contracts in
pyproject.toml hold this; docs/architecture.md gives the reasons.
"""
