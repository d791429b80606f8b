"""The OpenAPI description, with every error response documented as a `Problem`.

Rules, applied to every operation after FastAPI generated the schema:
- Each 4xx/5xx response is `application/problem+json` with the `Problem` component.
- Responses that can happen anywhere are added where they apply: 500 everywhere; 422 for an
  operation with parameters or a body; 400 (undecodable body) and 413 (the body-size limits)
  for one with a body.
- Responses that come from a dependency are added to every operation that depends on it,
  directly or through its router: the app passes `{dependency: statuses}` (401 with its
  `WWW-Authenticate` header for the caller, 403 for the admin role, 429 with its `Retry-After`
  header for the rate limit), so a new protected route documents them without a word.
- Routes list the domain errors they can raise themselves with `problem_responses(...)`.
- Under `/v1` (the OpenAI-compatible API) errors are OpenAI's instead: `application/json`
  with the `OpenAIError` component, and a request it will not take is a 400, never a 413 or
  a 422 (`backend/api/openai_api/errors.py`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from backend.api.openai_api.errors import AS_BAD_REQUEST, PREFIX, OpenAIErrorOut
from backend.api.problems import PROBLEM_MEDIA_TYPE, Problem

DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request body",
    401: "Not authenticated: no API key, or an unknown or revoked one",
    403: "Not allowed: the admin role is needed, or the user_id is not the caller's",
    404: "Not found",
    409: "Conflict with the current state (e.g. the index needs `almanac reindex`, or a "
    "document already holds the name, content or title)",
    413: "Request body or field too large",
    415: "Unsupported document: not a supported type, or binary content",
    422: "Invalid request",
    429: "Too many requests: wait `Retry-After` seconds",
    500: "Internal error: the detail names the request id to find in the log",
    501: "Not configured: an optional outside service (Google sign-in, Linear) is not set up",
    502: "The model provider failed or answered unusably",
    503: "The model or embedding provider is unavailable or rate-limiting, or too much work "
    "is queued",
    504: "The model or embedding provider, or the whole turn, took too long",
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_OPENAI_ERROR_REF = {"$ref": "#/components/schemas/OpenAIError"}
_HEADERS: dict[str, dict[str, Any]] = {
    "401": {
        "WWW-Authenticate": {
            "description": "The scheme to authenticate with: `Bearer` (an API key).",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    "429": {
        "Retry-After": {
            "description": "Seconds until the next request is allowed.",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
    "503": {
        "Retry-After": {
            "description": "Seconds after which asking again should succeed, when the server "
            "knows (a full queue).",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}

Operation = tuple[str, str]  # (path, METHOD)


#: The 202 of a route that starts a run in the background (its result is polled).
STARTED_RUN: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "Started in the background: poll the run at its `Location`.",
        "headers": {"Location": {"schema": {"type": "string"}}},
    },
    503: {
        "description": "Too many runs of this kind are queued or running, the caller's or "
        "everyone's (`service_busy`): ask again after `Retry-After` seconds; nothing was stored."
    },
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route for the error statuses it can answer."""
    return {status: {"description": DESCRIPTIONS.get(status, "Error")} for status in statuses}


def install_openapi(
    app: FastAPI,
    statuses_by_dependency: Mapping[Callable[..., Any], Collection[int]],
    *,
    shared: dict[str, Any] | None = None,
) -> None:
    """Serve the post-processed schema; an operation depending on a key of
    `statuses_by_dependency` documents its statuses. `shared`: a dict kept by apps whose
    schemas are the same (the same routes, title and version); the first app asked generates
    the schema into it, and each app serves a copy of its own."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            generated = shared.get("schema") if shared is not None else None
            if generated is None:
                generated = _generate(app, statuses_by_dependency)
                if shared is not None:
                    shared["schema"] = generated
            app.openapi_schema = copy.deepcopy(generated)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to replace the schema


def _generate(
    app: FastAPI, statuses_by_dependency: Mapping[Callable[..., Any], Collection[int]]
) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    from_dependencies: dict[Operation, set[int]] = {}
    for dependency, statuses in statuses_by_dependency.items():
        for operation in _operations_depending_on(app.routes, dependency):
            from_dependencies.setdefault(operation, set()).update(statuses)
    document_problems(schema, from_dependencies)
    return schema


def document_problems(
    schema: dict[str, Any], from_dependencies: Mapping[Operation, Collection[int]]
) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(
        ref_template="#/components/schemas/{model}", mode="serialization"
    )
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    openai_error = OpenAIErrorOut.model_json_schema(
        ref_template="#/components/schemas/{model}", mode="serialization"
    )
    components.update(openai_error.pop("$defs", {}))
    components["OpenAIError"] = openai_error
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)

    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            has_body = "requestBody" in operation
            extra = [500]
            if has_body or operation.get("parameters"):
                extra.append(422)
            if has_body:
                extra += [400, 413]  # a body that is not even text; one over the size limit
            extra += from_dependencies.get((path, method.upper()), ())
            openai = path.startswith(PREFIX + "/")
            if openai:  # OpenAI answers every request it will not take 400
                extra = [400 if status in AS_BAD_REQUEST else status for status in extra]
                for status in AS_BAD_REQUEST:
                    responses.pop(str(status), None)
            for status in extra:
                responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = (
                        {"application/json": {"schema": _OPENAI_ERROR_REF}}
                        if openai
                        else {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}
                    )
                    if status in _HEADERS:
                        response["headers"] = _HEADERS[status]
                    if response.get("description") in (None, "", "Validation Error"):
                        code = int(status) if status.isdigit() else 0
                        response["description"] = DESCRIPTIONS.get(code, "Error")
            operation["responses"] = dict(sorted(responses.items()))


def _operations_depending_on(
    routes: Sequence[BaseRoute], dependency: Callable[..., Any]
) -> set[Operation]:
    found = set()
    for route in iter_route_contexts(routes):  # included routers' routes with their paths
        if isinstance(route.original_route, APIRoute) and _depends_on(route.dependant, dependency):
            found |= {(str(route.path_format), method) for method in route.methods or ()}
    return found


def _depends_on(dependant: Dependant, dependency: Callable[..., Any]) -> bool:
    return any(
        sub.call is dependency or _depends_on(sub, dependency) for sub in dependant.dependencies
    )
