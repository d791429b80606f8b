"""What reading a website source costs: a first crawl's pages per second, and an idle re-sync
of the same pages that are all unchanged (every page a conditional GET answered 304).

Run from the repository root:

    python -m bench.bench_website_sync [--pages 1000] [--runs 3]

A local site (tests/website_server.py: a threaded HTTP server on 127.0.0.1) serves `--pages`
HTML pages of about 4 KB, each linked from a start page in a tree of 20 links per page (so
the crawl is depth 3 for 1,000 pages). The reader runs with a request delay of 0 (the
default SOURCE_REQUEST_DELAY_S is 1 s, which alone makes 1,000 pages take 1,000 s: a
politeness choice, not a cost). Printed for each run: the first read's time and pages/s,
then the idle re-read's time and how many of its requests were conditional. Aim (the synced
sources issue): an idle re-sync of 1,000 unchanged pages in 10 s or less. Only the reader is
measured here:
the sync's own work per unchanged page (a version compared, nothing embedded) is the
sources' bench's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from services.crawler import CrawlLimits, WebsiteReader  # noqa: E402
from tests.website_server import Site, website  # noqa: E402
from use_cases.sources.ports import Fetched, Unchanged  # noqa: E402

FAN_OUT = 20
PARAGRAPH = (
    "<p>Synced sources keep the knowledge base in step with the places documents live: "
    "a page that did not change costs a conditional request answered 304, and nothing is "
    "embedded again.</p>"
)


def build_site(site: Site, pages: int) -> None:
    """Page n links to pages n*FAN_OUT+1 .. n*FAN_OUT+FAN_OUT (a tree rooted at page 0)."""
    for number in range(pages):
        children = range(number * FAN_OUT + 1, min(pages, number * FAN_OUT + FAN_OUT + 1))
        links = "".join(f'<li><a href="p{child}.html">Page {child}</a></li>' for child in children)
        body = f"<h1>Page {number}</h1>{PARAGRAPH * 20}<ul>{links}</ul>"
        site.html(f"/site/p{number}.html", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    limits = CrawlLimits(max_pages=args.pages, max_depth=50, request_delay_s=0.0)
    firsts, idles = [], []
    with website() as site:
        build_site(site, args.pages)
        start = site.base + "/site/p0.html"
        for run in range(1, args.runs + 1):
            reader = WebsiteReader(start, limits, allowed_hosts=["127.0.0.1"])
            began = time.perf_counter()
            stored = {e.key: e.version for e in reader.read({}) if isinstance(e, Fetched)}
            first = time.perf_counter() - began
            assert len(stored) == args.pages, f"read {len(stored)} of {args.pages} pages"
            site.clear()
            began = time.perf_counter()
            events = list(reader.read(stored))
            idle = time.perf_counter() - began
            unchanged = sum(isinstance(e, Unchanged) for e in events)
            with site.lock:
                asked = [h for p, h in site.requests if p.startswith("/site/")]
            conditional = sum("if-none-match" in h for h in asked)
            firsts.append(first)
            idles.append(idle)
            print(
                f"run {run}: first read {args.pages} pages in {first:.2f} s "
                f"({args.pages / first:.0f} pages/s); idle re-read {idle:.2f} s, "
                f"{unchanged}/{len(events)} unchanged, {conditional}/{len(asked)} requests "
                "conditional (each answered 304 when unchanged)"
            )
    print(
        f"median of {args.runs}: first read {args.pages / statistics.median(firsts):.0f} "
        f"pages/s; idle re-read of {args.pages} unchanged pages "
        f"{statistics.median(idles):.2f} s (aim: <= 10 s)"
    )


if __name__ == "__main__":
    main()
