"""What a small hostile input costs the server, per route that accepts a file (issue 65).

    .venv/bin/python -m bench.bench_hostile_inputs [--skip-uploads] [--json]

Starts `almanac serve` (auth off, a fresh data directory with the sample) and sends each
input of the hostile corpus (`tests/hostile_inputs.py`: decompression bombs, malformed ZIPs,
fan-out and deep PDFs) to every route that accepts it. For each request it prints the
status, the wall time, the rise of the server's peak resident memory (VmHWM, reset before
each request through /proc/PID/clear_refs) and the CPU the server process used (utime +
stime from /proc/PID/stat; a parse in a child process, as chat attachments are parsed, is
counted apart by that child's `RLIMIT_CPU`, not here). Then the worst case per route.
Linux only. Nothing is asserted: the figures are the point (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_chat import Child, log, wait_ready  # noqa: E402
from bench.served import almanac_served  # noqa: E402
from tests import hostile_inputs  # noqa: E402

MiB = 1024 * 1024
_TICK = os.sysconf("SC_CLK_TCK")

EXPORTS: dict[str, Callable[[], bytes]] = {
    "zip bomb of {} (96 MiB)": hostile_inputs.zip_bomb,
    "zip bomb of conversations (40 MiB)": lambda: hostile_inputs.empty_conversation_bomb(40 * MiB),
    "one huge conversation (32 MiB)": hostile_inputs.nested_item_bomb,
    **{f"{kind} zip": make for kind, (make, _) in hostile_inputs.MALFORMED_ZIPS.items()},
}
PDFS: dict[str, Callable[[], bytes]] = {
    "fan-out PDF (40 pages x 0.5 MiB)": hostile_inputs.fan_out_pdf,
    "deep PDF (5,000 levels)": hostile_inputs.deep_pdf,
    "inline-image PDF (40 pages x 64 MiB)": hostile_inputs.inline_image_pdf,
    "Type 3 PDF (32 MiB glyph)": hostile_inputs.type3_pdf,
}


def _rss_peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def measure(pid: int, send: Callable[[], httpx.Response]) -> dict[str, Any]:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak starts again from now
    rss, cpu, started = _rss_kb(pid), _cpu_s(pid), time.monotonic()
    try:
        response = send()
    except httpx.TimeoutException:  # still reading when the client gave up: say so
        response = httpx.Response(599, json={"code": "client timed out"})
    wall = time.monotonic() - started
    time.sleep(0.2)  # let the server's last allocations of the request show
    body = response.json() if response.headers.get("content-type", "").endswith("json") else {}
    return {
        "status": response.status_code,
        "code": body.get("code"),
        "wall_s": round(wall, 2),
        "peak_rise_mb": round(max(0, _rss_peak_kb(pid) - rss) / 1024, 1),
        "server_cpu_s": round(_cpu_s(pid) - cpu, 2),
    }


def run(url: str, pid: int, skip_uploads: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with httpx.Client(base_url=url, timeout=120) as http:
        chat = http.post("/chat", json={"message": "What is the minimum password length?"})
        chat_id = chat.json()["chat_id"]
        routes: list[tuple[str, str, dict[str, Callable[[], bytes]], str]] = [
            (
                "POST /api/conversations/import/file",
                "/api/conversations/import/file",
                EXPORTS,
                "export.zip",
            ),
            (
                "POST /api/conversations/{id}/files",
                f"/api/conversations/{chat_id}/files",
                PDFS,
                "hostile.pdf",
            ),
        ]
        if not skip_uploads:
            routes.append(("POST /api/documents", "/api/documents", PDFS, "hostile.pdf"))
        for route, path, inputs, filename in routes:
            for name, make in inputs.items():
                data = make()

                def send(path: str = path, data: bytes = data, filename: str = filename):
                    return http.post(path, files={"file": (filename, data)})

                row = {"route": route, "input": name, "bytes": len(data), **measure(pid, send)}
                log(json.dumps(row))
                rows.append(row)
    return rows


def print_report(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'route':<38} {'input':<36} {'bytes':>8} {'status':>6} {'wall s':>7} "
        f"{'peak+ MB':>9} {'CPU s':>6}"
    )
    for r in rows:
        print(
            f"{r['route']:<38} {r['input']:<36} {r['bytes']:>8,} {r['status']:>6} "
            f"{r['wall_s']:>7} {r['peak_rise_mb']:>9} {r['server_cpu_s']:>6}"
        )
    print("\nworst case per route:")
    for route in dict.fromkeys(r["route"] for r in rows):
        mine = [r for r in rows if r["route"] == route]
        print(
            f"  {route:<38} peak +{max(r['peak_rise_mb'] for r in mine)} MB, "
            f"{max(r['server_cpu_s'] for r in mine)} s CPU, "
            f"{max(r['wall_s'] for r in mine)} s wall"
        )


async def _ready(url: str, child: Child, within_s: float) -> None:
    async with httpx.AsyncClient() as client:
        await wait_ready(client, child, f"{url}/health", within_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--skip-uploads",
        action="store_true",
        help="leave out admin uploads (POST /api/documents)",
    )
    parser.add_argument("--start-timeout", type=float, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with almanac_served("almanac-bench-hostile-", AUTH_ENABLED="false") as served:
        asyncio.run(_ready(served.url, served.child, args.start_timeout))
        rows = run(served.url, served.pid, args.skip_uploads)
    if args.json:
        print(json.dumps(rows))
    else:
        print_report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
