"""Domain errors. The presentation layer maps each to one HTTP status and CLI exit code.

AlmanacError
+-- InvalidRequest            bad input from the caller                      (422)
|   +-- UnsupportedDocument   file type we cannot read                       (415)
|   +-- InvalidDocument       corrupt, empty or unreadable file              (422)
|   |   +-- FutureDate        dated later than today (+ tolerance)           (422)
|   +-- PayloadTooLarge       upload over the configured limit               (413)
|   |   +-- InputTooCostly    reading it would pass a parse budget (bombs)   (413)
|   +-- InvalidArchive        a ZIP that is corrupt, encrypted or unknown    (422)
|   +-- ToolRejected          a tool refused its input (e.g. a write in SQL)  (422)
+-- Unauthorized              no, an unknown or a revoked API key            (401)
+-- Forbidden                 the caller's role may not do this              (403)
+-- NotFound                  no such document / chat                        (404)
+-- Conflict                  the state does not allow this now              (409)
|   +-- EmbeddingModelMismatch  index built with another embedder; reindex (409)
|   +-- DocumentExists        an upload's name is taken; replace explicitly   (409)
|   +-- DuplicateDocument     the same bytes are already stored               (409)
|   +-- TitleTaken            an upload takes another document's title        (409)
|   +-- ConversationLocked    its project exists: the draft is final         (409)
+-- ConfigurationError        the service is mis-configured                  (500)
+-- NotConfigured             an optional outside service is not set up      (501)
+-- ServiceBusy               too much queued work; retry later              (503)
|   +-- JobCancelled          the server stopped during a background job     (503)
|   +-- TooMuchInFlight       the caller's own work in flight is at its cap  (429)
|   +-- RateLimited           the caller's own budget per minute is spent    (429)
+-- UpstreamUnavailable       a provider failed or is unreachable            (503)
    +-- UpstreamTimeout       a provider did not answer in time              (504)
    +-- DatabaseUnavailable   the database (or its pooler) is unreachable    (503)
"""

from __future__ import annotations


class AlmanacError(Exception):
    """Base of every error the core raises on purpose. `detail` is safe to show users."""

    type: str = "error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidRequest(AlmanacError):
    type = "invalid_request"


class UnsupportedDocument(InvalidRequest):
    type = "unsupported_document"


class InvalidDocument(InvalidRequest):
    type = "invalid_document"


class FutureDate(InvalidDocument):
    type = "future_date"


class PayloadTooLarge(InvalidRequest):
    type = "payload_too_large"


class InputTooCostly(PayloadTooLarge):
    """An input whose reading would pass its budget (unpacked bytes, one JSON item's size,
    PDF pages or content, parse CPU time): see services/budgets.py."""

    type = "input_too_costly"


class InvalidArchive(InvalidRequest):
    """A ZIP that cannot be read: corrupt data, encryption, or an unknown compression
    method. The detail names which."""

    type = "invalid_archive"


class Unauthorized(AlmanacError):
    """The request does not carry a valid API key. The edge adds `WWW-Authenticate: Bearer`."""

    type = "unauthorized"


class Forbidden(AlmanacError):
    """The caller is known but their role does not allow the action. Someone else's chat is
    `NotFound` instead, so ids cannot be probed."""

    type = "forbidden"


class NotFound(AlmanacError):
    type = "not_found"


class Conflict(AlmanacError):
    type = "conflict"


class EmbeddingModelMismatch(Conflict):
    type = "embedding_model_mismatch"

    def __init__(self, indexed: str, configured: str) -> None:
        super().__init__(
            f"The knowledge base was indexed with {indexed}, but the configured embedder is "
            f"{configured}. Run `almanac reindex` to re-embed it with the configured model, "
            "or configure the original embedder again."
        )
        self.indexed = indexed
        self.configured = configured


class DocumentExists(Conflict):
    """An input's source names a stored document and nobody said to replace it."""

    type = "document_exists"

    def __init__(self, detail: str, document_id: int) -> None:
        super().__init__(detail)
        self.document_id = document_id


class DuplicateDocument(Conflict):
    """An input's bytes are those of a stored document under another source."""

    type = "duplicate_document"

    def __init__(self, detail: str, document_id: int) -> None:
        super().__init__(detail)
        self.document_id = document_id


class TitleTaken(Conflict):
    """An upload's title is that of a document it neither replaces nor supersedes."""

    type = "title_taken"

    def __init__(self, detail: str, document_id: int) -> None:
        super().__init__(detail)
        self.document_id = document_id


class ConversationLocked(Conflict):
    """The conversation's project was created from its draft: the draft no longer changes."""

    type = "conversation_locked"


class ConfigurationError(AlmanacError):
    type = "configuration_error"


class NotConfigured(AlmanacError):
    """An optional outside service (Google sign-in, Linear) that this deployment has not
    set up: the feature exists, the server cannot offer it until configured."""

    type = "not_configured"


class ServiceBusy(AlmanacError):
    """`retry_after_s`: when known, the seconds after which asking again should succeed (sent
    as `Retry-After`)."""

    type = "service_busy"

    def __init__(self, detail: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class JobCancelled(ServiceBusy):
    type = "job_cancelled"


class TooMuchInFlight(ServiceBusy):
    """The caller's own work in flight is at a per-user cap (the detail names it): the
    server is not busy for others, this caller asks again after `retry_after_s`."""

    type = "too_much_in_flight"


class RateLimited(ServiceBusy):
    """The caller has spent a per-minute budget of their own (the detail names its setting):
    the server is not busy for others, this caller asks again after `retry_after_s`."""

    type = "rate_limited"


class UpstreamUnavailable(AlmanacError):
    type = "upstream_unavailable"


class UpstreamTimeout(UpstreamUnavailable):
    type = "upstream_timeout"


class UpstreamBadResponse(UpstreamUnavailable):
    type = "upstream_error"


class DatabaseUnavailable(UpstreamUnavailable):
    """The database, or the pooler in front of it, cannot be reached now (refused or lost
    connections, no pooled connection free in time). Transient: asking again once it is back
    succeeds, and a background job waits it out instead of failing (services/job_queue.py)."""

    type = "database_unavailable"


class ToolRejected(InvalidRequest):
    """A tool refused its input (e.g. a non-SELECT statement). The agent retries with it."""

    type = "tool_rejected"
