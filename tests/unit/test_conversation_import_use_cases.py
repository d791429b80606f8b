"""The import use cases on fakes: the stages a URL import reports (with and without a
summariser), an export's progress and duplicates, who sees an import job, Slack's admin rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.conversations.import_formats import ConversationFormatReader
from tests.conversation_exports import chatgpt_export
from tests.narrowing import present
from use_cases.access.domain import Caller
from use_cases.chat.domain import Chat
from use_cases.conversations.import_domain import (
    HostNotAllowed,
    ImportedConversation,
    ImportJobView,
    ImportOutcome,
)
from use_cases.conversations.imports import (
    GetImportJob,
    ImportExportFile,
    ImportFromUrl,
    ImportSlackThread,
)
from use_cases.shared.errors import Forbidden, InputTooCostly, NotFound

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PAGE = """<script id="__NEXT_DATA__" type="application/json">{"props": {"pageProps":
{"serverResponse": {"data": {"title": "T", "conversation_id": "c1", "linear_conversation": [
{"message": {"author": {"role": "user"}, "content": {"parts": ["Hi?"]}}},
{"message": {"author": {"role": "assistant"}, "content": {"parts": ["Hello."]}}}]}}}}}
</script>"""


class FakeFetcher:
    def __init__(self, allowed: str = "chatgpt.com") -> None:
        self.allowed = allowed
        self.fetched: list[str] = []

    def check(self, url: str) -> None:
        if self.allowed not in url:
            raise HostNotAllowed("no")

    def fetch(self, url: str) -> tuple[str, str]:
        self.fetched.append(url)
        return url + "?redirected", PAGE


class FakeChats:
    def __init__(self) -> None:
        self.chats: dict[tuple[str, str, str], ImportOutcome] = {}

    def import_conversation(self, user_id: str, c: ImportedConversation) -> ImportOutcome:
        key = (user_id, c.source, c.external_id)
        if key in self.chats:
            return ImportOutcome(self.chats[key].chat, False, len(c.messages))
        chat = Chat(f"chat{len(self.chats)}", user_id, c.title, NOW, NOW, c.source, c.source_url)
        self.chats[key] = ImportOutcome(chat, True, len(c.messages))
        return self.chats[key]


class FakeJobs:
    def __init__(self) -> None:
        self.jobs: dict[str, ImportJobView] = {}

    def submit(self, name: str, data: bytes, *, created_by: str) -> ImportJobView:
        job = ImportJobView(
            f"job{len(self.jobs)}",
            name,
            "queued",
            NOW,
            created_by,
            None,
            None,
            0,
            None,
            None,
            None,
            None,
        )
        self.jobs[job.id] = job
        return job

    def get(self, job_id: str) -> ImportJobView | None:
        return self.jobs.get(job_id)


formats = ConversationFormatReader()


async def test_a_url_import_reports_its_stages_and_keeps_the_given_link() -> None:
    chats = FakeChats()
    importer = ImportFromUrl(FakeFetcher(), formats, chats)
    events = [e async for e in importer.stream("ann", " https://chatgpt.com/share/x ")]
    assert [e.stage for e in events[:-1]] == ["fetching", "parsing", "saving"]
    outcome = events[-1].outcome
    assert outcome is not None and outcome.created and outcome.messages == 2
    assert outcome.chat.source_url == "https://chatgpt.com/share/x"


async def test_a_summariser_runs_last_and_its_failure_keeps_the_import() -> None:
    summarised: list[str] = []

    async def summarise(chat_id: str) -> None:
        summarised.append(chat_id)
        raise RuntimeError("model down")

    importer = ImportFromUrl(FakeFetcher(), formats, FakeChats(), summarise=summarise)
    events = [e async for e in importer.stream("ann", "https://chatgpt.com/share/x")]
    assert [e.stage for e in events[:-1]] == ["fetching", "parsing", "saving", "summarising"]
    assert summarised == [present(events[-1].outcome).chat.id]


async def test_a_refused_link_fails_before_the_first_stage() -> None:
    fetcher = FakeFetcher()
    importer = ImportFromUrl(fetcher, formats, FakeChats())
    stream = importer.stream("ann", "https://example.com/x")
    with pytest.raises(HostNotAllowed):
        await anext(stream)
    assert fetcher.fetched == []


async def test_an_export_reports_progress_and_skips_what_was_imported() -> None:
    chats, jobs = FakeChats(), FakeJobs()
    importer = ImportExportFile(formats, chats, jobs, max_bytes=10_000_000)
    data = chatgpt_export(25)
    job = await importer.execute("ann", "dir/conversations.json", data)
    assert job.name == "conversations.json" and job.created_by == "ann"
    seen: list[tuple[int, int]] = []
    first = importer.run_now("ann", job.name, data, lambda d, t: seen.append((d, t)))
    assert seen == [(0, 25), (10, 25), (20, 25), (25, 25)]
    assert (first["imported"], first["skipped_duplicates"]) == (25, 0)
    again = importer.run_now("ann", job.name, data, lambda d, t: None)
    assert (again["imported"], again["skipped_duplicates"]) == (0, 25)
    assert again["chat_ids"] == first["chat_ids"]


async def test_an_import_job_is_its_uploaders_and_the_admins() -> None:
    jobs = FakeJobs()
    job = jobs.submit("c.json", b"", created_by="ann")
    get = GetImportJob(jobs)
    assert (await get.execute(Caller("ann", "user", None), job.id)).id == job.id
    assert (await get.execute(Caller("root", "admin", None), job.id)).id == job.id
    with pytest.raises(NotFound):
        await get.execute(Caller("bob", "user", None), job.id)


async def test_a_slack_thread_needs_an_admin_caller() -> None:
    payload = {"channel": "C1", "messages": [{"text": "hi", "ts": "1.0"}]}
    importer = ImportSlackThread(formats, FakeChats())
    with pytest.raises(Forbidden):
        await importer.execute(Caller("ann", "user", None), "ann", payload)
    outcome = await importer.execute(Caller("bot", "admin", None), "ann", payload)
    assert outcome.chat.user_id == "ann" and outcome.chat.source == "slack"


async def test_a_conversation_over_the_chat_size_cap_is_refused_before_anything_is_stored() -> None:
    chats, jobs = FakeChats(), FakeJobs()
    data = chatgpt_export(3, turns=2)  # four messages each
    capped = ImportExportFile(formats, chats, jobs, max_bytes=10_000_000, max_messages=3)
    with pytest.raises(InputTooCostly, match=r"Conversation 1 of c\.json .* has 4 messages; "
                       r"a chat holds at most 3 \(max_chat_messages\)"):  # fmt: skip
        await capped.execute("ann", "c.json", data)
    with pytest.raises(InputTooCostly, match="at most 3"):
        capped.run_now("ann", "c.json", data, lambda done, total: None)
    assert jobs.jobs == {} and chats.chats == {}
    at_the_cap = ImportExportFile(formats, chats, jobs, max_bytes=10_000_000, max_messages=4)
    assert at_the_cap.run_now("ann", "c.json", data, lambda d, t: None)["imported"] == 3

    url = ImportFromUrl(FakeFetcher(), formats, chats, max_messages=1)
    with pytest.raises(InputTooCostly, match=r"The shared conversation .* has 2 messages"):
        await url.execute("ann", "https://chatgpt.com/share/x")
    slack = ImportSlackThread(formats, chats, max_messages=1)
    thread = {"channel": "C1", "messages": [{"text": t, "ts": "1.0"} for t in ("a", "b")]}
    with pytest.raises(InputTooCostly, match=r"The Slack thread.* has 2 messages"):
        await slack.execute(Caller("bot", "admin", None), "ann", thread)
    assert len(chats.chats) == 3  # only the export's, at the cap
