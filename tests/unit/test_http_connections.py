"""Which connection gives way when a cap is full (backend/http_connections.py)."""

from __future__ import annotations

from backend.http_connections import ConnectionTable, Stand


def _table(*rows: tuple[str, str, Stand | None]) -> ConnectionTable[str]:
    """A table of connections named by `rows` (name, address, stand), admitted in order."""
    table: ConnectionTable[str] = ConnectionTable()
    for name, address, stand in rows:
        table.admit(name, address, stand)
    return table


def test_counts_follow_admissions_and_drops_per_address_and_in_all() -> None:
    table = _table(("a1", "A", Stand.NEW), ("a2", "A", None), ("b1", "B", Stand.IDLE))
    assert (table.count(), table.count("A"), table.count("B"), table.count("C")) == (3, 2, 1, 0)
    assert table.drop("a2") and not table.drop("a2")
    table.drop("b1")
    assert (table.count(), table.count("A"), table.count("B")) == (1, 1, 0)


def test_the_lowest_stand_gives_way_first_and_a_request_in_progress_never() -> None:
    table = _table(
        ("authenticated", "A", Stand.IDLE_AUTHENTICATED),
        ("idle", "A", Stand.IDLE),
        ("busy", "A", None),
        ("new", "A", Stand.NEW),
        ("closing", "A", Stand.CLOSING),
    )
    order = []
    while (victim := table.victim("A")) is not None:
        order.append(victim)
        table.drop(victim)
    assert order == ["closing", "new", "idle", "authenticated"]
    assert table.count("A") == 1  # the busy one


def test_within_a_stand_the_one_that_entered_it_first_gives_way() -> None:
    table = _table(("first", "A", None), ("second", "A", Stand.IDLE), ("third", "A", None))
    table.move("third", Stand.IDLE)
    table.move("first", Stand.IDLE)  # idle last: kept longest
    table.move("second", Stand.IDLE)  # already there: keeps its place
    assert table.victim("A") == "second"
    table.move("second", None)  # a new request: leaves the stand, and re-enters it last
    table.move("second", Stand.IDLE)
    assert table.victim("A") == "third"


def test_the_process_cap_takes_from_the_address_holding_the_most_in_all() -> None:
    table = _table(
        ("a-new", "A", Stand.NEW),
        ("b-new-1", "B", Stand.NEW),
        ("b-new-2", "B", Stand.NEW),
        ("a-busy-1", "A", None),
        ("a-busy-2", "A", None),
        ("c-idle", "C", Stand.IDLE),
    )
    assert table.victim() == "a-new"  # A holds 3 in all, B 2: A's new one, though newer
    assert table.victim("B") == "b-new-1"
    table.drop("a-new")
    assert table.victim() == "b-new-1"
    table.drop("b-new-1")
    table.drop("b-new-2")
    assert table.victim() == "c-idle"  # nothing new left: the idle one


def test_nothing_gives_way_when_every_connection_is_busy_or_from_another_address() -> None:
    table = _table(("a", "A", None), ("b", "B", Stand.NEW))
    assert table.victim("A") is None
    table.move("b", None)
    assert table.victim() is None
    table.move("unknown", Stand.NEW)  # not counted: left alone
    assert table.count() == 2 and table.victim() is None
