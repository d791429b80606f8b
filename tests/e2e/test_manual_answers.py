"""A command-line tool's manual page, uploaded through the API and asked about through
`POST /chat` (the offline model): the answer carries the command an example's comment
introduces, and the document's characters (`<PID>`, not `&lt;PID>`) in its JSON."""

from __future__ import annotations

import httpx

PAGE = b"""<!DOCTYPE html>
<html><head><title>quarrytool extract</title></head><body>
<div role="main">
<h1>quarrytool extract</h1>
<h2>Description</h2>
<p>This command extracts the contents of a quarry snapshot into the current directory.</p>
<p>To see which environment variables a running quarrytool process reads, find its PID and
look into /proc/&lt;PID&gt;/environ.</p>
<h2>Examples</h2>
<pre># Extract the whole snapshot
$ quarrytool extract /srv/quarry::monday

# Extract only the "src" directory of the snapshot, skipping object files
$ quarrytool extract /srv/quarry::monday home/user/src \\
    --exclude '*.o'
</pre>
</div></body></html>
"""


async def test_a_manual_pages_example_command_and_placeholder_come_back_as_written(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/documents", files={"file": ("quarrytool-extract.html", PAGE, "text/html")}
    )
    assert response.status_code in (200, 201), response.text

    asked = await client.post(
        "/chat", json={"message": "how do I extract only the src directory with quarrytool?"}
    )
    assert asked.status_code == 200, asked.text
    answer = asked.json()["answer"]
    # the comment's command, whole: its continuation line stays with it, in a code block
    assert "$ quarrytool extract /srv/quarry::monday home/user/src \\\n    --exclude '*.o'" in (
        answer
    )
    assert answer.split("**Sources**")[0].count("[") >= 1  # cited

    asked = await client.post(
        "/chat", json={"message": "where do I see the environment of a running quarrytool?"}
    )
    answer = asked.json()["answer"]
    assert "`/proc/<PID>/environ`" in answer  # the document's characters, in a code span
    assert "&lt;" not in answer
