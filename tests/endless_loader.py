"""A loader whose PDF parse never ends, for tests of the parse's CPU budget.

It lives in a module of its own that imports only the loaders: a budgeted loader builds it in
its child process by import, and a child that had to import a test module (and through it the
whole backend) would spend its CPU budget on imports before parsing anything.
"""

from __future__ import annotations

from services.knowledge.loaders import FileLoader
from use_cases.knowledge.domain import ParsedDocument


class EndlessPdfLoader(FileLoader):
    """The real loaders, except that a PDF's parse never ends: the breach of any CPU budget is
    certain, whatever the machine's speed."""

    def load(self, name: str, data: bytes) -> ParsedDocument:
        if name.endswith(".pdf"):
            while True:
                pass
        return super().load(name, data)
