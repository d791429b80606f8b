"""What PostgreSQL's scoped search holds per set of readable documents (their sections, their
chunks) is bounded: at most `limit` ids in all, the oldest sets going first, a set larger than
the limit never held, and nothing kept past the store's next write."""

from __future__ import annotations

from services.knowledge.pg_retrieval import HeldIds


class Loads:
    """A loader that counts its calls: a held set is not loaded again."""

    def __init__(self) -> None:
        self.calls = 0

    def ids(self, n: int) -> frozenset[int]:
        self.calls += 1
        return frozenset(range(n))


def test_a_held_set_is_loaded_once_per_generation() -> None:
    held: HeldIds[frozenset[int]] = HeldIds(limit=100)
    loads = Loads()
    scope = frozenset({1, 2})
    assert held.get(1, scope, lambda: loads.ids(10)) == frozenset(range(10))
    assert held.get(1, scope, lambda: loads.ids(10)) == frozenset(range(10))
    assert loads.calls == 1
    held.get(2, scope, lambda: loads.ids(10))  # a write moved the generation
    assert loads.calls == 2


def test_the_oldest_sets_go_first_and_a_set_past_the_limit_is_not_held() -> None:
    held: HeldIds[frozenset[int]] = HeldIds(limit=100)
    loads = Loads()
    first, second, third, huge = (frozenset({i}) for i in range(4))
    held.get(1, first, lambda: loads.ids(40))
    held.get(1, second, lambda: loads.ids(40))
    held.get(1, third, lambda: loads.ids(40))  # 120 > 100: the first goes
    assert loads.calls == 3
    held.get(1, second, lambda: loads.ids(40))
    held.get(1, third, lambda: loads.ids(40))
    assert loads.calls == 3
    held.get(1, first, lambda: loads.ids(40))
    assert loads.calls == 4
    assert len(held.get(1, huge, lambda: loads.ids(101))) == 101
    held.get(1, huge, lambda: loads.ids(101))
    assert loads.calls == 6
