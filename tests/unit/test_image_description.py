"""Describing an attached image with the chat's model (PydanticAI `FunctionModel`s stand in
for providers): a model that reads images describes it and the description is the file's
one chunk; any other model, or a failing one, leaves it stored without a description and a
note that says why."""

from __future__ import annotations

import pytest
from pydantic_ai import BinaryContent
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from services.conversations.image_reader import PillowImageReader
from tests.fakes import InMemoryHistoryStore, SteppingClock
from tests.fakes.conversation_files import InMemoryChatFileStore, InMemoryFileBytes
from tests.fakes.knowledge import HashingEmbedder, SentenceChunker, TextLoader
from tests.image_samples import image_bytes
from use_cases.chat.domain import NewMessage
from use_cases.conversations.files import AttachFile, AttachRequest
from use_cases.conversations.image_description import DescribeImage
from use_cases.prompts.domain import ProviderInfo
from use_cases.prompts.ports import ResolvedModel
from use_cases.shared.errors import ConfigurationError

DESCRIPTION = "A photo of two white beehives on a flat roof; a sign reads 'Thursday checks'."
PHOTO = image_bytes("JPEG")


class Seer:
    """A model that reads images: answers DESCRIPTION and keeps the images it was sent."""

    def __init__(self, answer: str = DESCRIPTION) -> None:
        self.answer = answer
        self.images: list[BinaryContent] = []

    def respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        for message in messages:
            for part in message.parts if isinstance(message, ModelRequest) else ():
                if isinstance(part, UserPromptPart) and not isinstance(part.content, str):
                    self.images += [c for c in part.content if isinstance(c, BinaryContent)]
        return ModelResponse(parts=[TextPart(self.answer)])


def failing(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    raise RuntimeError("secret provider detail")


class Models:
    """A `ModelResolver` over named PydanticAI models; `default` answers unnamed requests."""

    def __init__(self, models: dict[str, object], default: str) -> None:
        self.models, self.default = models, default

    @property
    def allowed(self) -> tuple[str, ...]:
        return tuple(self.models)

    @property
    def default_identifier(self) -> str:
        return self.default

    @property
    def internal_default(self) -> str:
        return self.default

    @property
    def default_sources(self) -> tuple[tuple[str, str | None], ...]:
        return (("built-in", self.default),)

    def providers(self) -> list[ProviderInfo]:
        return []

    def resolve(self, requested: str | None) -> ResolvedModel:
        identifier = requested or self.default
        if self.models[identifier] is None:
            raise ConfigurationError(f"Model {identifier} needs a key.")
        return ResolvedModel(identifier, self.models[identifier])


class World:
    def __init__(self, models: Models, vision: frozenset[str] = frozenset({"test:seer"})) -> None:
        self.history = InMemoryHistoryStore()
        self.store = InMemoryChatFileStore()
        self.history.get_or_create_chat("c1", "ana", "hello")
        self.attach = AttachFile(
            self.history,
            self.store,
            InMemoryFileBytes(),
            TextLoader(),
            PillowImageReader(),
            SentenceChunker(),
            HashingEmbedder(),
            SteppingClock(),
            max_bytes=100_000,
            max_chunks=10,
            describe=DescribeImage(self.history, models, vision, timeout_s=5),
        )

    async def upload(self, data: bytes = PHOTO, name: str = "roof.jpg"):
        return (await self.attach.execute(AttachRequest("ana", "c1", name, data))).file


async def test_a_model_that_reads_images_gets_the_image_and_its_description_is_indexed() -> None:
    seer = Seer()
    world = World(Models({"test:seer": FunctionModel(seer.respond)}, "test:seer"))

    file = await world.upload()

    assert [(i.data, i.media_type) for i in seer.images] == [(PHOTO, "image/jpeg")]
    assert file.description == DESCRIPTION and file.description_note is None
    assert file.chunk_count == 1
    [(chunk, _vector)] = world.store.chunks[file.id]
    assert chunk.chunk_text == chunk.section_text == DESCRIPTION


async def test_the_chats_last_answer_model_is_asked_when_requests_may_still_use_it() -> None:
    seer = Seer()
    world = World(
        Models(
            {"test:plain": FunctionModel(failing), "test:seer": FunctionModel(seer.respond)},
            "test:plain",
        )
    )
    world.history.append_message("c1", NewMessage("user", "Look at this."))
    world.history.append_message("c1", NewMessage("assistant", "Sure.", model="test:seer"))

    file = await world.upload()

    assert file.description == DESCRIPTION and len(seer.images) == 1


@pytest.mark.parametrize(
    ("models", "note"),
    [
        (Models({"offline-extractive": object()}, "offline-extractive"), "does not read images"),
        (Models({"test:seer": None}, "test:seer"), "cannot be used: Model test:seer needs a key"),
        (Models({"test:seer": FunctionModel(failing)}, "test:seer"), "test:seer failed"),
        (Models({"test:seer": FunctionModel(Seer("   ").respond)}, "test:seer"), "no text"),
    ],
)
async def test_without_a_model_that_reads_images_the_image_is_stored_undescribed_and_says_why(
    models: Models, note: str
) -> None:
    world = World(models)

    file = await world.upload()

    assert file.description is None and file.chunk_count == 0
    assert note in (file.description_note or "")
    assert "secret provider detail" not in (file.description_note or "")
    assert world.store.list("c1") == [file]


async def test_a_text_file_is_never_sent_to_the_model() -> None:
    seer = Seer()
    world = World(Models({"test:seer": FunctionModel(seer.respond)}, "test:seer"))

    file = await world.upload(b"# Roof\nThe beehives are checked on Thursdays.", "roof.txt")

    assert seer.images == [] and file.description is None and file.description_note is None
