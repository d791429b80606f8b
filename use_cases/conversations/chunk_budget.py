"""The chunks one user's attached files may embed per minute: what an attachment costs is
mostly its embedding (a 6.7 KB workbook once made ~5,000 chunks, 43 CPU-seconds), which the
per-file parse budget does not cover and the per-request rate limit does not weigh.

Rules:
- Each user has a token bucket of `per_minute` chunks, refilled continuously at that rate
  (`TokenBuckets`: in memory on one server, in PostgreSQL or Redis shared by every replica,
  as the chat rate limit's). The bucket is the user's (the acting user: an admin attaching
  for a user spends that user's), whichever API key or replica the file came through.
- A file is charged the chunks it makes once it is chunked, before any is embedded, and
  only if the bucket holds them all: then they are taken at once. Else the file is refused
  with `RateLimited` (429 `rate_limited`, `Retry-After`: the seconds until the bucket will
  hold them), whose detail names the setting; nothing is taken and nothing written.
- A file that makes more chunks than the whole budget could never pass: it is refused with
  `PayloadTooLarge` (413) naming the setting, before anything is taken.
- The same bytes already in the chat cost nothing (the stored file is returned before the
  parse); an image costs its one description chunk, if it has one.
- `per_minute` 0 disables the budget.
"""

from __future__ import annotations

import math

from use_cases.shared.errors import PayloadTooLarge, RateLimited
from use_cases.shared.token_buckets import TokenBuckets

__all__ = ["SETTING", "ChunkBudget"]

#: The setting of `per_minute`, named in refusals.
SETTING = "CHAT_FILE_USER_CHUNKS_PER_MINUTE"


class ChunkBudget:
    """`check` a file's chunks against the whole budget, then `spend` them from the user's
    bucket (the module docstring has the rules)."""

    def __init__(self, buckets: TokenBuckets, *, per_minute: int) -> None:
        if per_minute < 0:
            raise ValueError("a budget of chunks per minute is 0 (off) or more")
        self.per_minute = per_minute
        self._buckets = buckets

    def check(self, name: str, chunks: int) -> None:
        """Refuse (413) a file of more chunks than the whole budget."""
        if self.per_minute and chunks > self.per_minute:
            raise PayloadTooLarge(
                f"{name} makes {chunks:,} chunks to embed; one user's attached files may embed "
                f"at most {self.per_minute:,} a minute ({SETTING}), so it can never be "
                "attached: attach a smaller part of it, or add it to the knowledge base."
            )

    def spend(self, user_id: str, name: str, chunks: int) -> None:
        """Take `chunks` from the user's bucket (a blocking call), or refuse (429)."""
        if not self.per_minute or chunks <= 0:
            return
        self.check(name, chunks)
        wait = self._buckets.take(
            f"chat-file-chunks:{user_id}", float(self.per_minute), self.per_minute / 60.0, chunks
        )
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise RateLimited(
                f"{name} makes {chunks:,} chunks to embed, more than your attached files may "
                f"embed now: at most {self.per_minute:,} a minute ({SETTING}). Try again in "
                f"{seconds} s.",
                retry_after_s=seconds,
            )
