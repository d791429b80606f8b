"""The connections one HTTP server holds, counted per client address, and which one gives way
when a cap is reached (backend/http_server.py keeps one table per server).

A cap that refuses the newcomer can be filled by anyone: a thousand idle sockets that never
send a request would lock every other client out. So a full cap sheds a connection that is
waiting for a request (one that has not sent a whole head yet, or one kept alive between
requests) and admits the newcomer; only when every connection has a request in progress is
the newcomer refused.

Rules:
- A connection is counted from its admission until it is dropped (closed or shed).
- A counted connection stands in one `Stand` while it may be shed, or in none while it has a
  request in progress (never shed). Within a stand, connections are in the order they entered
  it: the oldest first (for a kept-alive one, the one idle longest).
- `victim(address)`: the first connection of the lowest stand that `address` has.
  `victim()`: in the lowest stand anyone has, the first connection of the address that holds
  the most connections in all (the flooding address pays first; ties go to the address that
  entered the stand first). None when nothing may be shed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from enum import IntEnum
from typing import Generic, TypeVar

__all__ = ["ConnectionTable", "Stand"]

C = TypeVar("C", bound=Hashable)


class Stand(IntEnum):
    """How readily a connection gives way, the lowest first."""

    #: Answered a refusal (408, 431) and lingering until it closes.
    CLOSING = 0
    #: Has not sent a whole request head yet (new, or trickling its first head).
    NEW = 1
    #: Between requests (kept alive), none of them authenticated.
    IDLE = 2
    #: Between requests, one of them authenticated (the app named its caller).
    IDLE_AUTHENTICATED = 3


class ConnectionTable(Generic[C]):
    """Counted connections by client address, and by stand (module docstring)."""

    def __init__(self) -> None:
        self._per_client: Counter[str] = Counter()
        self._total = 0
        #: Each connection's address and stand (None: a request in progress).
        self._where: dict[C, tuple[str, Stand | None]] = {}
        #: Per stand, per address, its connections in the order they entered the stand.
        self._stands: dict[Stand, dict[str, dict[C, None]]] = {stand: {} for stand in Stand}

    def count(self, address: str | None = None) -> int:
        """Connections counted in all, or from `address`."""
        return self._total if address is None else self._per_client[address]

    def admit(self, connection: C, address: str, stand: Stand | None) -> None:
        self._per_client[address] += 1
        self._total += 1
        self._where[connection] = (address, None)
        self.move(connection, stand)

    def move(self, connection: C, stand: Stand | None) -> None:
        """Put `connection` in `stand` (last of it), unless it is there already; one that is
        not counted is left alone."""
        where = self._where.get(connection)
        if where is None or where[1] is stand:
            return
        address, before = where
        if before is not None:
            self._leave(connection, address, before)
        if stand is not None:
            self._stands[stand].setdefault(address, {})[connection] = None
        self._where[connection] = (address, stand)

    def drop(self, connection: C) -> bool:
        """Stop counting `connection`; False if it was not counted."""
        where = self._where.pop(connection, None)
        if where is None:
            return False
        address, stand = where
        if stand is not None:
            self._leave(connection, address, stand)
        self._total -= 1
        self._per_client[address] -= 1
        if self._per_client[address] <= 0:
            del self._per_client[address]
        return True

    def victim(self, address: str | None = None) -> C | None:
        """The connection to shed to make room (module docstring), or None."""
        for stand in Stand:
            by_address = self._stands[stand]
            if address is not None:
                own = by_address.get(address)
                if own:
                    return next(iter(own))
            elif by_address:
                busiest = max(by_address, key=self._per_client.__getitem__)
                return next(iter(by_address[busiest]))
        return None

    def _leave(self, connection: C, address: str, stand: Stand) -> None:
        by_address = self._stands[stand]
        own = by_address[address]
        del own[connection]
        if not own:
            del by_address[address]
