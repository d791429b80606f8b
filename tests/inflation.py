"""What a piece of code inflates, in bytes: the work an input budget is there to bound,
counted instead of timed (a test never depends on the machine's speed; the seconds are
measured by `python -m bench.bench_hostile_inputs`).

Every inflate of the process goes through `zlib.decompressobj` or `zlib.decompress`
(zipfile's, pypdf's, the PDF loader's content meter); while `counting_inflation()` is open,
both count what they put out. PDFium inflates in C, out of sight: a test that a PDF is refused
before PDFium reads it spies on `pypdfium2.PdfDocument` instead."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock


@dataclass
class Inflation:
    """Bytes inflated since `counting_inflation()` opened."""

    bytes: int = 0


class _CountedInflater:
    def __init__(self, inner: Any, inflation: Inflation) -> None:
        self._inner = inner
        self._inflation = inflation

    def decompress(self, data: Any, max_length: int = 0) -> bytes:
        out: bytes = self._inner.decompress(data, max_length)
        self._inflation.bytes += len(out)
        return out

    def flush(self, *args: Any) -> bytes:
        out: bytes = self._inner.flush(*args)
        self._inflation.bytes += len(out)
        return out

    def __getattr__(self, name: str) -> Any:  # eof, unconsumed_tail, unused_data, copy
        return getattr(self._inner, name)


@contextmanager
def counting_inflation() -> Iterator[Inflation]:
    """An `Inflation` that counts every byte zlib inflates until the block ends."""
    inflation = Inflation()
    decompressobj, decompress = zlib.decompressobj, zlib.decompress

    def counted_decompressobj(*args: Any, **kwargs: Any) -> _CountedInflater:
        return _CountedInflater(decompressobj(*args, **kwargs), inflation)

    def counted_decompress(*args: Any, **kwargs: Any) -> bytes:
        out = decompress(*args, **kwargs)
        inflation.bytes += len(out)
        return out

    with (
        mock.patch.object(zlib, "decompressobj", counted_decompressobj),
        mock.patch.object(zlib, "decompress", counted_decompress),
    ):
        yield inflation
