"""Whether the loaders still read every document as they did: a fingerprint of what each
loader and the chunker make of every sample document, to compare before and after a change
that must not alter what is extracted (a loader made faster, for instance).

    .venv/bin/python -m bench.check_loader_output --write /tmp/before.json   # on the old code
    .venv/bin/python -m bench.check_loader_output --compare /tmp/before.json # on the new code

The documents: every file a loader reads under `sample_data/` (the knowledge base, the
corpora, the cleaning and evaluation samples) and `tests/fixtures/`, and the generated
documents of `bench.bench_loaders` (every loader and structure, at `--mb` MB, 0.05 by
default; nested lists among them). For each: the title, metadata and sections the loader
returns, and the chunk texts of the default `HeadingChunker`, hashed (SHA-256); a refused
document records its error instead. `--compare` lists every document whose fingerprint
differs (and exits 1), else says how many are the same.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_loaders import LOADERS, MB  # noqa: E402
from services.knowledge.chunking import HeadingChunker  # noqa: E402
from services.knowledge.loaders import FileLoader  # noqa: E402

FOLDERS = ("sample_data", "tests/fixtures")


def documents(mb: float) -> dict[str, tuple[str, bytes]]:
    """{label: (file name, bytes)} of every document checked."""
    loader = FileLoader()
    found: dict[str, tuple[str, bytes]] = {}
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and loader.supports(path.name):
                found[str(path.relative_to(ROOT))] = (path.name, path.read_bytes())
    size = int(mb * MB)
    for kind, (name, structures) in LOADERS.items():
        for structure, make in structures.items():
            found[f"bench_loaders: {kind}, {structure}"] = (name, make(size))
    return found


def fingerprint(loader: FileLoader, name: str, data: bytes) -> str:
    try:
        document = loader.load(name, data)
    except Exception as exc:  # a refusal is part of what a loader does
        read: object = {"error": type(exc).__name__, "text": str(exc)}
    else:
        read = {
            "title": document.title,
            "category": document.category,
            "updated_at": str(document.updated_at),
            "metadata": document.metadata,
            "sections": [[list(s.heading_path), s.text] for s in document.sections],
            "chunks": [
                [list(d.heading_path), d.text, list(d.chunks)]
                for d in HeadingChunker().chunk(document)
            ],
        }
    return hashlib.sha256(json.dumps(read, sort_keys=True, default=str).encode()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, help="record the fingerprints in this file")
    group.add_argument("--compare", type=Path, help="compare with the fingerprints recorded")
    parser.add_argument("--mb", type=float, default=0.05, help="size of generated documents")
    args = parser.parse_args(argv)
    loader = FileLoader()
    prints = {
        label: fingerprint(loader, name, data) for label, (name, data) in documents(args.mb).items()
    }
    if args.write:
        args.write.write_text(json.dumps(prints, indent=1, sort_keys=True), encoding="utf-8")
        print(f"{len(prints)} documents recorded in {args.write}")
        return 0
    recorded = json.loads(args.compare.read_text(encoding="utf-8"))
    labels = recorded.keys() | prints.keys()
    differ = sorted(label for label in labels if recorded.get(label) != prints.get(label))
    for label in differ:
        print(f"differs: {label}")
    print(f"{len(prints) - len(differ)} of {len(prints)} documents read as recorded")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
