"""Schemathesis fuzzes every operation of the OpenAPI description in-process (ASGI), with
valid inputs and with inputs that break the schema: no input may cause a 5xx, and every
response must be as documented (status code, content type, schema, headers). Bounded to
`FUZZ_EXAMPLES` (2) examples an operation and mode, 1 with an admin's key: every operation
in both modes on every run, cheaply (~160 cases without auth, ~80 with the key). The draws are
derandomized, so each run sends the same requests: more examples per run would not add up
over runs. The deep run is `make fuzz` (CI does not run it): 200 examples an operation and
mode, 50 with the key, drawn anew each time (`FUZZ_RANDOM=1`), its counts written to
`fuzz-report.json`. The offline
model answers the chat operations, against a private copy of the sample data.

Each operation is fuzzed twice: in development mode (AUTH_ENABLED=false, the default) and
with AUTH_ENABLED=true sending an admin's API key, so the authenticated paths (the caller, the
admin role, the per-key rate limit) meet the same inputs; a refusal with 401 or 403 must be a
documented problem like any other.

Schemathesis sends a generated file field as a part named `file` (or `file.pdf`, `file.zip`
when its bytes start with one of those signatures) and mostly as random text, which never
reaches a PDF or ZIP reader. So every operation that takes a file also gets, as often as
schemathesis' own values, a file of the hostile corpus (tests/hostile_inputs.py: fan-out,
deep, inline-image, Type 3 and metadata-bomb PDFs, malformed ZIPs, a ZIP of deeply nested
JSON) with its signature's name and its media
type (`HOSTILE_PARTS`): an admin's upload or a chat attachment reaches the PDF loader and its
budget, an export import the ZIP reader. `FUZZ_REPORT` counts them apart.

`POST /api/chat` declares no body schema (it takes whatever `useChat` sends), so only its
refusals are fuzzed here; its streams are checked by the Vercel AI SDK parsers elsewhere.
(Schemathesis' own pytest loader does not run under pytest 9.2, so each operation's strategy is
driven by Hypothesis here.)"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, Response
from schemathesis.checks import (
    CheckContext,
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from tests import hostile_inputs
from tests.conftest import FixedClock, issue_key, make_settings


def not_a_server_error_but_a_full_queue(
    ctx: CheckContext, response: Response, case: schemathesis.Case
) -> bool | None:
    """`not_a_server_error`, except the documented 503 of a full run queue (`service_busy`
    with `Retry-After`): valid cleaning runs of every table start faster than they end, so
    the third of one caller's is refused by its cap, as it should be (counted apart in
    `FUZZ_REPORT` as `queue_full`); and the documented 501 `not_configured` of an outside
    service this deployment has not set up (Google sign-in, a project tracker)."""
    body = response.json() if "json" in str(response.headers.get("content-type")) else {}
    code = body.get("code") if isinstance(body, dict) else None
    busy = response.status_code == 503 and bool(response.headers.get("retry-after"))
    if (busy and code == "service_busy") or (
        response.status_code == 501 and code == "not_configured"
    ):
        return True
    return not_a_server_error(ctx, response, case)


CHECKS = [
    not_a_server_error_but_a_full_queue,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
#: Examples per operation and mode: a few on every run (each operation in both modes), many
#: in `make fuzz` (`FUZZ_EXAMPLES=200`, drawn anew each run: `FUZZ_RANDOM=1`), which CI does
#: not run. `FUZZ_REPORT=PATH` writes the count of requests made and their status codes.
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "2"))
#: ... with an admin's key. What the key adds (the caller, the admin role, the per-key rate
#: limit) runs before a route reads its input, so it meets fewer of them; the routes' handling
#: of input is fuzzed with `EXAMPLES_PER_OPERATION` without auth. `FUZZ_EXAMPLES_WITH_KEY`
#: raises it.
EXAMPLES_WITH_KEY = int(os.environ.get("FUZZ_EXAMPLES_WITH_KEY", "1"))
#: Draw new examples on each run (`make fuzz`), instead of the same ones (every other run:
#: a failure found there is found again by the next run).
RANDOM_DRAWS = os.environ.get("FUZZ_RANDOM", "") not in ("", "0")
_STATUSES: Counter[int] = Counter()
#: Documented 503s of a full run queue (not server errors; see the check below).
_QUEUE_FULL = [0]
#: (hostile file, operation, status) of each generated request that carried one.
_HOSTILE_SENT: Counter[tuple[str, str, int]] = Counter()

#: The hostile files a generated file field may carry: each is cheap to refuse when the
#: budgets hold (the large bombs are sent once per route by the test below instead).
HOSTILE_PARTS: dict[str, tuple[Callable[[], bytes], str]] = {
    "fan-out.pdf": (hostile_inputs.fan_out_pdf, "application/pdf"),
    "fan-out-form.pdf": (
        lambda: hostile_inputs.fan_out_pdf(pages=1, content=16 * 1024, via_form=True, draws=20_000),
        "application/pdf",
    ),
    "deep.pdf": (hostile_inputs.deep_pdf, "application/pdf"),
    "inline-image.pdf": (hostile_inputs.inline_image_pdf, "application/pdf"),
    "type3.pdf": (hostile_inputs.type3_pdf, "application/pdf"),
    # refused before anything inflates (the XMP is charged before PDFium opens it)
    "metadata-bomb.pdf": (hostile_inputs.metadata_bomb_pdf, "application/pdf"),
    "deep-export.zip": (hostile_inputs.deep_export_zip, "application/zip"),
    **{
        f"{kind.replace(' ', '-')}.zip": (make, "application/zip")
        for kind, (make, _) in hostile_inputs.MALFORMED_ZIPS.items()
    },
}


@functools.cache
def _hostile_bytes(name: str) -> bytes:
    return HOSTILE_PARTS[name][0]()


def _takes_a_file(operation: schemathesis.APIOperation) -> bool:
    content = operation.definition.raw.get("requestBody", {}).get("content", {})
    return "multipart/form-data" in content


def _with_hostile_files(
    cases: st.SearchStrategy[schemathesis.Case], operation: schemathesis.APIOperation
) -> st.SearchStrategy[tuple[schemathesis.Case, str | None]]:
    """Cases of `operation` with, as often as not, a hostile file in the `file` field (named
    by its signature, sent with its media type); the name of the file, or None."""
    if not _takes_a_file(operation):
        return cases.map(lambda case: (case, None))
    choice = st.one_of(st.none(), st.sampled_from(sorted(HOSTILE_PARTS)))
    return st.tuples(cases, choice).map(lambda drawn: _put_file(*drawn))


def _put_file(case: schemathesis.Case, name: str | None) -> tuple[schemathesis.Case, str | None]:
    if name is None or not isinstance(case.body, dict):
        return case, None
    form: dict[str, Any] = {**case.body, "file": _hostile_bytes(name)}  # multipart: bytes too
    case.body = form
    case.multipart_content_types = {
        **(case.multipart_content_types or {}),
        "file": HOSTILE_PARTS[name][1],
    }
    return case, name


@functools.cache
def _spec() -> dict:
    """The OpenAPI description the parametrizations read (generating it takes seconds, and
    each test worker collects this module)."""
    return create_app(make_settings(Path("unused"))).openapi()  # no lifespan: nothing opened


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """Every operation with valid inputs; those that take inputs also with invalid ones."""
    spec = _spec()
    cases = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            if operation.get("parameters") or operation.get("requestBody"):
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return cases


@dataclass(frozen=True)
class Target:
    schema: schemathesis.schemas.BaseSchema
    headers: dict[str, str]
    chat_id: str
    """A chat of the caller's, where the hostile attachments go (a generated id is a 404)."""


AUTH_MODES = ("auth off", "admin key")


@pytest.fixture(scope="session")  # once per worker, however the tests are spread
def targets(
    sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Target]]:
    containers: list[Container] = []
    found: dict[str, Target] = {}
    try:
        for auth in AUTH_MODES:
            data_dir = tmp_path_factory.mktemp("fuzz") / "data"
            shutil.copytree(sample_data_dir, data_dir)
            settings = make_settings(
                data_dir, rate_limit_per_minute=0, auth_enabled=auth == "admin key"
            )
            container = bootstrap(settings, clock=FixedClock())
            containers.append(container)
            headers = (
                asyncio.run(issue_key(container, "root", "admin")) if auth != "auth off" else {}
            )
            schema = schemathesis.openapi.from_asgi(
                "/openapi.json", create_app(container=container)
            )
            chat = schema["/chat"]["POST"].Case(
                body={"message": "What is the minimum password length?"},
                media_type="application/json",
            )
            found[auth] = Target(schema, headers, chat.call(headers=headers).json()["chat_id"])
        yield found
    finally:
        for container in containers:
            container.close()
        report = os.environ.get("FUZZ_REPORT")
        if report:
            Path(report).write_text(
                json.dumps(
                    {
                        "requests": sum(_STATUSES.values()),
                        "server_errors": sum(n for s, n in _STATUSES.items() if s >= 500)
                        - _QUEUE_FULL[0],
                        "queue_full": _QUEUE_FULL[0],
                        "statuses": {str(k): v for k, v in sorted(_STATUSES.items())},
                        "generated_hostile_files": sum(_HOSTILE_SENT.values()),
                        "hostile_files": [
                            {"file": f, "operation": o, "status": s, "requests": n}
                            for (f, o, s), n in sorted(_HOSTILE_SENT.items())
                        ],
                    },
                    indent=1,
                )
            )


@pytest.mark.slow
@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.parametrize(("method", "path", "mode"), _cases())
def test_no_input_breaks_the_api_or_its_documented_contract(
    targets: dict[str, Target], auth: str, method: str, path: str, mode: GenerationMode
) -> None:
    target = targets[auth]
    operation = target.schema[path][method]

    @given(drawn=_with_hostile_files(operation.as_strategy(generation_mode=mode), operation))
    @settings(
        max_examples=EXAMPLES_WITH_KEY if auth == "admin key" else EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=not RANDOM_DRAWS,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(drawn: tuple[schemathesis.Case, str | None]) -> None:
        case, hostile = drawn
        if hostile is not None and "chat_id" in case.path_parameters:
            case.path_parameters = {**case.path_parameters, "chat_id": target.chat_id}
        response = case.call_and_validate(headers=target.headers, checks=CHECKS)
        _STATUSES[response.status_code] += 1
        _QUEUE_FULL[0] += response.status_code == 503
        if hostile is not None:
            _HOSTILE_SENT[(hostile, f"{method} {path}", response.status_code)] += 1

    fuzz()


def _file_routes() -> list[tuple[str, str]]:
    spec = _spec()
    return [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "multipart/form-data" in operation.get("requestBody", {}).get("content", {})
    ]


#: The hostile corpus of tests/hostile_inputs.py, each file sent once to every route that
#: takes one, under its signature's name (`file.zip`, `file.pdf`) and its media type: the
#: decompression bombs besides the cheaper files the generated cases carry.
HOSTILE_FILES: dict[str, tuple[Callable[[], bytes], str]] = {
    "zip-bomb.zip": (hostile_inputs.zip_bomb, "application/zip"),
    "conversation-bomb.zip": (
        lambda: hostile_inputs.empty_conversation_bomb(40 * 1024 * 1024),
        "application/zip",
    ),
    # arrays nested 100,000 deep (an unbounded streaming parser: ~24 GB)
    "deep.json": (hostile_inputs.deep_json, "application/json"),
    **HOSTILE_PARTS,
}


#: The files the PDF loader's budget refuses with 413 (the others are refused otherwise).
_PDF_BUDGET_REFUSES = (
    "fan-out.pdf",
    "fan-out-form.pdf",
    "inline-image.pdf",
    "type3.pdf",
    "metadata-bomb.pdf",
)


@pytest.mark.slow
@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.parametrize(("method", "path"), _file_routes())
def test_hostile_files_break_no_route_that_takes_one(
    targets: dict[str, Target], auth: str, method: str, path: str
) -> None:
    target = targets[auth]
    operation = target.schema[path][method]
    parameters = {"chat_id": target.chat_id, "document_id": "d" * 8}
    fields = operation.definition.raw["requestBody"]["content"]["multipart/form-data"]
    required = _multipart_fields(target.schema, fields["schema"])
    for name, (make, media_type) in HOSTILE_FILES.items():
        body: dict[str, Any] = {**required, "file": make()}
        case = operation.Case(
            path_parameters={k: v for k, v in parameters.items() if "{" + k + "}" in path},
            body=body,
            media_type="multipart/form-data",
            multipart_content_types={"file": media_type},
        )
        response = case.call_and_validate(headers=target.headers, checks=CHECKS)
        _STATUSES[response.status_code] += 1
        assert response.status_code < 500, (name, response.text)
        queued = path == "/api/documents" and response.status_code == 202
        if (
            path in ("/api/documents", "/api/conversations/{chat_id}/files")
            and name in _PDF_BUDGET_REFUSES
            and not queued  # an admin's upload over UPLOAD_JOB_BYTES: its job is refused
        ):  # the PDF loader's budget
            assert response.json()["code"] == "input_too_costly", (name, response.text)
        if path == "/api/conversations/import/file" and name in ("deep.json", "deep-export.zip"):
            assert response.json()["code"] == "input_too_costly", (name, response.text)
        if path == "/api/conversations/import/file" and name.endswith(".zip"):  # its reader
            assert response.json()["code"] in (
                "invalid_archive",
                "input_too_costly",
                "invalid_export",
            )
            assert "not JSON" not in response.json()["detail"] or name == "zip-bomb.zip"


def _multipart_fields(schema: schemathesis.schemas.BaseSchema, ref: dict) -> dict[str, str]:
    """Plain values for a multipart body's other required fields (a table's name, ...)."""
    name = ref["$ref"].rsplit("/", 1)[-1]
    body = schema.raw_schema["components"]["schemas"][name]
    return {field: "x" for field in body.get("required", []) if field != "file"}
