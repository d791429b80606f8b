"""`LOADERS_VERSION` is part of the ingestion pipeline's signature: re-ingesting unchanged
files re-indexes them only when it changes. So it must change whenever a loader makes other
text of the same bytes, or re-ingesting leaves the old text (stale navigation, code where
there is now prose) in the index. This test reads reference documents of every format and
fails when what the loaders make of them changes while the version does not."""

from __future__ import annotations

import hashlib
from pathlib import Path

from services.knowledge.loaders import LOADERS_VERSION, FileLoader

ROOT = Path(__file__).resolve().parents[2]

#: Reference documents: every format, and the structures the loaders read (Sphinx, DocBook
#: and hand-written HTML, reST, MyST and plain Markdown, a PDF with bookmarks).
REFERENCES = (
    "tests/fixtures/docs/*",
    "tests/fixtures/hostile/*.md",
    "sample_data/knowledge_base/policies/*.md",
    "sample_data/corpora/black-docs/documents/usage_and_configuration/*.md",
    "sample_data/corpora/black-docs/documents/index.md",
    "sample_data/corpora/rst-spec/documents/directives.txt",
    "sample_data/corpora/python-howtos/documents/howto/sorting.html",
    "sample_data/corpora/python-howtos/documents/faq/general.html",
    "sample_data/corpora/sqlite-docs/documents/limits.html",
    "sample_data/corpora/postgres-docs/documents/*.html",
    "sample_data/corpora/latex-guides/documents/cfgguide.pdf",
)

#: LOADERS_VERSION -> the fingerprint of the loaders' text of `REFERENCES`. When a loader
#: change alters it, bump LOADERS_VERSION and record the new fingerprint under it.
FINGERPRINTS = {
    6: "60f242c83e71637f884caea417d8b4266fdb5b4468eecf140e5cfe5ceab8a10d",
    7: "95925f2099e17571bba420f78da3566e87a0a7b50e2beb8586ad530caba79605",
    8: "03d109e20b480cf808c3f2e6794ddc1d42d76d5984b104a959671b8d93cbbaba",
    9: "d2f04fc7678bd1d2cbcde765f7f94c5debe2b8fea1d608a0906dda1b3ddfbbf3",
    10: "90503f50aa71fd41c99da3f96473d2427ba2b8fe3610ce7c1159a9e3d3948fba",
    # 11 (with tests/fixtures/docs/release-checklist.md, which 10 read with headings inside
    # a raw HTML block and inside code)
    11: "50ef4b8ca8a00a5dc392e7c168a09af6881dce19f9ac0929a52b0e38fc888c3c",
    # 12: Markdown's character references decoded in prose; no reference document has one
    # there (test_loader_structure's test of them reads one), so the fingerprint is 11's
    12: "50ef4b8ca8a00a5dc392e7c168a09af6881dce19f9ac0929a52b0e38fc888c3c",
    # 13: scans read by OCR at 300 dpi with a lower confidence cut, and prose set in a Word
    # code style read as prose; no reference document is a scan or a Word file, so the
    # fingerprint is 12's
    13: "50ef4b8ca8a00a5dc392e7c168a09af6881dce19f9ac0929a52b0e38fc888c3c",
    # 14: scans' leader dots read as dots, and their headings found by OCR's type sizes; no
    # reference document is a scan, so the fingerprint is 13's
    14: "50ef4b8ca8a00a5dc392e7c168a09af6881dce19f9ac0929a52b0e38fc888c3c",
    # 15: a scan's title taken out of its headings, a heading over two lines read as one,
    # OCR's line size from the x-height, and the words beside leader dots read again; no
    # reference document is a scan, so the fingerprint is 14's
    15: "50ef4b8ca8a00a5dc392e7c168a09af6881dce19f9ac0929a52b0e38fc888c3c",
    # 16: a scan's section numbers written as most of its others are ("1.3." read as
    # "1.3"); no reference document is a scan, so the fingerprint is 15's
    16: "50ef4b8ca8a00a5dc392e7c168a09af6881dce19f9ac0929a52b0e38fc888c3c",
    # 17: a row of symbols or a sentence with a footnote mark in a scan heads no section,
    # a scan's page is split at a heading whose dot was dropped, its marginal notes are cut
    # out and its bullets read as bullets; no reference document is a scan (cfgguide's
    # bookmarks and lines agree on dots), so the fingerprint is 16's
    17: "50ef4b8ca8a00a5dc392e7c168a09af6881dce19f9ac0929a52b0e38fc888c3c",
    # 18: a workbook's sheet only as wide as its columns holding a value, and an .ods read by
    # our own reader; no reference document is a workbook, so the fingerprint is 17's
    18: "50ef4b8ca8a00a5dc392e7c168a09af6881dce19f9ac0929a52b0e38fc888c3c",
}


def fingerprint() -> str:
    loader = FileLoader()
    digest = hashlib.sha256()
    paths = sorted({p for pattern in REFERENCES for p in ROOT.glob(pattern) if p.is_file()})
    assert len(paths) > 40
    for path in paths:
        document = loader.load(path.name, path.read_bytes())
        digest.update(
            f"\0{path.relative_to(ROOT)}\0{document.title}\0{document.updated_at}".encode()
        )
        for section in document.sections:
            digest.update(f"\0{' > '.join(section.heading_path)}\0{section.text}".encode())
    return digest.hexdigest()


def test_the_loaders_version_changes_with_what_the_loaders_read() -> None:
    found = fingerprint()
    assert FINGERPRINTS.get(LOADERS_VERSION) == found, (
        "The loaders make other text of the reference documents: bump LOADERS_VERSION in "
        f"services/knowledge/loaders/__init__.py and record {found!r} under it here."
    )
