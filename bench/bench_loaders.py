"""What each document loader costs per MB of input, by the structure the document is made of.

    .venv/bin/python -m bench.bench_loaders [--mb 1.0] [--repeats 2] [--only PDF] [--json]

For every loader (Markdown, HTML, plain text, reStructuredText, PDF) a document of about
`--mb` MB is made of one structure at a time (prose under headings, lists, tables, code) and
loaded in this process; the CPU seconds of the load (`time.process_time`, the best of
`--repeats` loads, two by default: on a shared machine the best of more is the steadier
figure) are divided by the document's MB; `--only` measures one loader. A legitimate
document should cost what its size says, whatever it is made of: the worst structure of
each loader is the figure that matters (a 1.29 MB Markdown list was refused past the 5 s
parse budget at ~3.5 CPU-s per MB, where prose took 0.37). Nothing is asserted: the figures
go to docs/notes/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.knowledge.loaders import FileLoader  # noqa: E402
from tests.hostile_inputs import pdf_file  # noqa: E402

MB = 1_000_000
#: The words every generated document is written with.
_TEXT = (
    "the rotation policy requires every service account password to change after ninety "
    "days unless the security team grants an exception recorded in the register"
)
WORDS = _TEXT.split()

Make = Callable[[int], bytes]


def _sentence(n: int) -> str:
    return " ".join(WORDS[(n + i) % len(WORDS)] for i in range(14)).capitalize() + "."


def _paragraph(n: int) -> str:
    return " ".join(_sentence(n + i) for i in range(5))


def _repeat(size: int, head: str, piece: Callable[[int], str], tail: str = "") -> bytes:
    parts, total, n = [head], len(head), 0
    while total < size:
        text = piece(n)
        parts.append(text)
        total += len(text)
        n += 1
    parts.append(tail)
    return "".join(parts).encode()


# -- Markdown ------------------------------------------------------------------------------------

MARKDOWN: dict[str, Make] = {
    "prose": lambda size: _repeat(
        size, "# Policy\n\n", lambda n: f"## Part {n}\n\n{_paragraph(n)}\n\n{_paragraph(n + 1)}\n\n"
    ),
    "lists": lambda size: _repeat(size, "# Inventory\n\n", lambda n: f"- item {n:06}\n"),
    "nested lists": lambda size: _repeat(
        size, "# Tasks\n\n", lambda n: f"- task {n}\n  - owner {n % 7}\n  - due day {n % 30}\n"
    ),
    "tables": lambda size: _repeat(
        size,
        "# Accounts\n\n| id | owner | rotated | note |\n|---|---|---|---|\n",
        lambda n: f"| {n} | user{n % 97} | day {n % 90} | {WORDS[n % len(WORDS)]} |\n",
    ),
    "code": lambda size: _repeat(
        size,
        "# Scripts\n\n",
        lambda n: (
            f"## Step {n}\n\n```python\n"
            + "".join(f"value_{i} = compute({n}, {i})  # {WORDS[i % 9]}\n" for i in range(12))
            + "```\n\n"
        ),
    ),
}

# -- HTML ----------------------------------------------------------------------------------------

_HTML_HEAD = "<html><head><title>Policy</title></head><body><h1>Policy</h1>"
_HTML_TAIL = "</body></html>"
HTML: dict[str, Make] = {
    "prose": lambda size: _repeat(
        size, _HTML_HEAD, lambda n: f"<h2>Part {n}</h2><p>{_paragraph(n)}</p>", _HTML_TAIL
    ),
    "lists": lambda size: _repeat(
        size, _HTML_HEAD + "<ul>", lambda n: f"<li>item {n:06}</li>\n", "</ul>" + _HTML_TAIL
    ),
    "tables": lambda size: _repeat(
        size,
        _HTML_HEAD + "<table><tr><th>id</th><th>owner</th><th>rotated</th></tr>",
        lambda n: f"<tr><td>{n}</td><td>user{n % 97}</td><td>day {n % 90}</td></tr>\n",
        "</table>" + _HTML_TAIL,
    ),
    "code": lambda size: _repeat(
        size,
        _HTML_HEAD,
        lambda n: (
            f"<h2>Step {n}</h2><pre><code>"
            + "".join(f"value_{i} = compute({n}, {i})\n" for i in range(12))
            + "</code></pre>"
        ),
        _HTML_TAIL,
    ),
}

# -- plain text and reStructuredText -------------------------------------------------------------

TEXT: dict[str, Make] = {
    "prose": lambda size: _repeat(size, "Policy\n\n", lambda n: f"{_paragraph(n)}\n\n"),
    "lists": lambda size: _repeat(size, "Inventory\n\n", lambda n: f"- item {n:06}\n"),
    "tables": lambda size: _repeat(
        size, "id\towner\trotated\n", lambda n: f"{n}\tuser{n % 97}\tday {n % 90}\n"
    ),
    "code": lambda size: _repeat(
        size, "Scripts\n\n", lambda n: f"    value_{n} = compute({n}, {n % 12})\n"
    ),
}
REST: dict[str, Make] = {
    "prose": lambda size: _repeat(
        size,
        "Policy\n======\n\n",
        lambda n: f"Part {n}\n{'-' * len(f'Part {n}')}\n\n{_paragraph(n)}\n\n",
    ),
    "lists": lambda size: _repeat(size, "Inventory\n=========\n\n", lambda n: f"- item {n:06}\n"),
    "tables": lambda size: _repeat(
        size,
        "Accounts\n========\n\n======  ========  =======\nid      owner     rotated\n"
        "======  ========  =======\n",
        lambda n: f"{n:<6}  user{n % 97:<4}  day {n % 90:<3}\n",
        "======  ========  =======\n",
    ),
    "code": lambda size: _repeat(
        size,
        "Scripts\n=======\n\n",
        lambda n: (
            f"Step {n}::\n\n"
            + "".join(f"    value_{i} = compute({n}, {i})\n" for i in range(12))
            + "\n"
        ),
    ),
}

# -- PDF ---------------------------------------------------------------------------------------


def _pdf_lines(lines: list[str], per_page: int = 50) -> bytes:
    """A PDF writing `lines` in Helvetica, `per_page` a page (deflated content streams)."""
    pages = [lines[i : i + per_page] for i in range(0, len(lines), per_page)]
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", b""]
    objects[2] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    kids = []
    for page in pages:
        ops = "BT /F1 10 Tf 40 760 Td 12 TL " + " ".join(
            "(" + line.replace("\\", "").replace("(", "").replace(")", "") + ") '" for line in page
        )
        stream = zlib.compress(ops.encode("latin-1", "replace"))
        objects.append(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream)
            + stream
            + b"\nendstream"
        )
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % len(objects)
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    return pdf_file(objects)


def _pdf_of(line: Callable[[int], str]) -> Make:
    """A PDF whose text (uncompressed) is about `size` bytes of `line(n)` lines: sized by its
    text, since its deflated streams say little about what the loader reads."""

    def make(size: int) -> bytes:
        lines, total, n = [], 0, 0
        while total < size:
            text = line(n)
            lines.append(text)
            total += len(text) + 1
            n += 1
        return _pdf_lines(lines)

    return make


PDF: dict[str, Make] = {
    "prose": _pdf_of(lambda n: _sentence(n) + " " + _sentence(n + 1)),
    "lists": _pdf_of(lambda n: f"- item {n:06}"),
    "tables": _pdf_of(lambda n: f"{n}    user{n % 97}    day {n % 90}"),
    "code": _pdf_of(lambda n: f"value_{n} = compute({n}, {n % 12})"),
}

LOADERS: dict[str, tuple[str, dict[str, Make]]] = {
    "Markdown": ("doc.md", MARKDOWN),
    "HTML": ("doc.html", HTML),
    "plain text": ("doc.txt", TEXT),
    "reStructuredText": ("doc.rst", REST),
    "PDF": ("doc.pdf", PDF),
}


def measure(
    loader: FileLoader, name: str, data: bytes, size: int, repeats: int = 2
) -> dict[str, float]:
    """The best of `repeats` loads' CPU seconds, per MB of `size` (the document's text)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        loader.load(name, data)
        best = min(best, time.process_time() - started)
    return {"cpu_s": round(best, 3), "cpu_s_per_mb": round(best / (size / MB), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=1.0, help="size of each document, in MB")
    parser.add_argument("--repeats", type=int, default=2, help="loads a document, the best kept")
    parser.add_argument("--only", choices=sorted(LOADERS), help="measure this loader alone")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be 1 or more")
    size = int(args.mb * MB)
    loader = FileLoader()
    rows = []
    kinds = [args.only] if args.only else list(LOADERS)
    for kind in kinds:
        name, structures = LOADERS[kind]
        for structure, make in structures.items():
            data = make(size)
            text_size = size if name.endswith(".pdf") else len(data)
            row = {"loader": kind, "structure": structure, "bytes": len(data)}
            row |= measure(loader, name, data, text_size, args.repeats)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'loader':<18} {'structure':<13} {'bytes':>10} {'CPU s':>7} {'CPU s/MB':>9}")
    for r in rows:
        print(
            f"{r['loader']:<18} {r['structure']:<13} {r['bytes']:>10,} {r['cpu_s']:>7} "
            f"{r['cpu_s_per_mb']:>9}"
        )
    print("\nworst structure per loader:")
    for kind in kinds:
        worst = max(
            (r for r in rows if r["loader"] == kind), key=lambda r: cast(float, r["cpu_s_per_mb"])
        )
        print(f"  {kind:<18} {worst['structure']:<13} {worst['cpu_s_per_mb']} CPU-s per MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
