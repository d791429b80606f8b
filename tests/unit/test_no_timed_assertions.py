"""No test depends on the machine's speed: none asserts that a duration, of wall-clock or
of CPU time, stayed under a bound (`assert time.monotonic() - started < 15`,
`assert time.process_time() - cpu < 1`). Such a test fails on a slow or loaded machine and
proves nothing on a fast one; durations belong in the benchmarks (bench/). A budget test
makes its breach certain and checks the refusal (and what was done to refuse: a spy on the
costly step, the bytes inflated). A deadline that fails a test only when something never
happens (waiting for a server, `timeout=` on a subprocess) is a safety net: it fails with
`pytest.fail` once passed, never as an `assert` that compares a clock with it
(`assert time.monotonic() < deadline` reads as a bound on speed, and is found here too)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
#: Not Python tests of this suite: the browser tests' and the JavaScript clients' own trees.
SKIPPED = ("browser", "js")
#: The `time` functions that read a clock: wall-clock time, and the CPU time of the process
#: or the thread.
CLOCKS = frozenset(
    {
        "monotonic",
        "monotonic_ns",
        "perf_counter",
        "perf_counter_ns",
        "time",
        "time_ns",
        "process_time",
        "process_time_ns",
        "thread_time",
        "thread_time_ns",
    }
)


class _Clocks:
    """What reads a clock in one module: `time.monotonic()` (however `time` was imported),
    the names and attributes bound from one (`started = time.monotonic()`), the durations
    computed from them (`elapsed = time.perf_counter() - started`), and the functions that
    return a duration, alone or in a tuple (`return raised, cpu`: `_, cpu_s = measure()`)."""

    def __init__(self, tree: ast.Module) -> None:
        #: Every node of the module, walked once (the scan reads the whole suite: each walk
        #: of it is seconds).
        self.nodes = list(ast.walk(tree))
        self.modules = {"time"}
        self.functions: set[str] = set()
        for node in self.nodes:
            if isinstance(node, ast.Import):
                self.modules |= {a.asname or a.name for a in node.names if a.name == "time"}
            elif isinstance(node, ast.ImportFrom) and node.module == "time":
                self.functions |= {a.asname or a.name for a in node.names if a.name in CLOCKS}
        self.instants: set[str] = set()
        self.durations: set[str] = set()
        #: function name -> what of its value is a duration: None all of it, an int that
        #: item of the tuple it returns
        self.returns: dict[str, set[int | None]] = {}
        returned = [
            (node.name, value)
            for node in self.nodes
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            for value in _returned(node)
        ]
        bindings = [
            pair
            for node in self.nodes
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            for pair in _pairs(target, node.value)
        ]
        changed = True
        while changed:  # `started` may be bound below the function that subtracts it
            changed = False
            for name, value in bindings:
                kind = (
                    self.instants
                    if self.is_instant(value)
                    else self.durations
                    if self.is_duration(value)
                    else None
                )
                if kind is not None and name not in kind:
                    kind.add(name)
                    changed = True
            for function, value in returned:
                items = value.elts if isinstance(value, ast.Tuple) else None
                timed = (
                    {i for i, item in enumerate(items) if self.is_duration(item)}
                    if items is not None
                    else {None}
                    if self.is_duration(value)
                    else set()
                )
                if not timed <= self.returns.setdefault(function, set()):
                    self.returns[function] |= timed
                    changed = True

    def is_instant(self, node: ast.expr) -> bool:
        """A point in time: a clock read, a name bound from one, or one moved (`+ 5`)."""
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                return func.value.id in self.modules and func.attr in CLOCKS
            return isinstance(func, ast.Name) and func.id in self.functions
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.is_instant(node.left) or self.is_instant(node.right)
        return _name(node) in self.instants

    def is_duration(self, node: ast.expr) -> bool:
        """A difference of clock readings, or something computed from one."""
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Sub) and (
                self.is_instant(node.left) or self.is_instant(node.right)
            ):
                return True
            return self.is_duration(node.left) or self.is_duration(node.right)
        if isinstance(node, ast.UnaryOp):
            return self.is_duration(node.operand)
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in ("abs", "round", "float", "int"):
                return any(self.is_duration(arg) for arg in node.args)
            return None in self.returns.get(_name(node.func) or "", ())
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Call)
            and isinstance(node.slice, ast.Constant)
        ):
            timed = self.returns.get(_name(node.value.func) or "", set())
            return None in timed or node.slice.value in timed
        return _name(node) in self.durations


def _name(node: ast.expr) -> str | None:
    """`started` for `started` and for `self.started`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _returned(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr]:
    """What `function`'s own `return`s return (not those of the functions it defines)."""
    found: list[ast.expr] = []
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return) and node.value is not None:
            found.append(node.value)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))
    return found


def _pairs(target: ast.expr, value: ast.expr) -> list[tuple[str, ast.expr]]:
    """(name, value) of each name an assignment binds (`a, b = x, y` pairwise; `a, b = f()`
    binds `a` to `f()[0]`)."""
    if isinstance(target, ast.Tuple | ast.List):
        if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts):
            return [p for t, v in zip(target.elts, value.elts, strict=True) for p in _pairs(t, v)]
        if isinstance(value, ast.Call) and not any(isinstance(t, ast.Starred) for t in target.elts):
            return [
                p
                for i, t in enumerate(target.elts)
                for p in _pairs(t, ast.Subscript(value=value, slice=ast.Constant(i)))
            ]
        return []
    name = _name(target)
    return [(name, value)] if name is not None else []


def timed_assertions(source: str) -> list[int]:
    """The lines of the asserts that bound a duration from above (`duration < bound`,
    `duration <= bound`, or `bound > duration`), or compare a clock with a deadline."""
    tree = ast.parse(source)
    clocks = _Clocks(tree)
    found = []
    for node in clocks.nodes:
        if not isinstance(node, ast.Assert):
            continue
        for compare in (n for n in ast.walk(node.test) if isinstance(n, ast.Compare)):
            lefts = [compare.left, *compare.comparators[:-1]]
            for op, left, right in zip(compare.ops, lefts, compare.comparators, strict=True):
                below = isinstance(op, ast.Lt | ast.LtE) and clocks.is_duration(left)
                above = isinstance(op, ast.Gt | ast.GtE) and clocks.is_duration(right)
                instants = clocks.is_instant(left) and clocks.is_instant(right)
                if below or above or instants:
                    found.append(node.lineno)
    return sorted(set(found))


def _test_modules() -> list[Path]:
    return [
        path
        for path in sorted(TESTS.rglob("*.py"))
        if path.relative_to(TESTS).parts[0] not in SKIPPED
    ]


def test_timed_assertions_are_found_and_safety_nets_are_not() -> None:
    timed = [
        "import time\nstarted = time.monotonic()\nassert time.monotonic() - started < 15\n",
        "import time\ndef f():\n    assert elapsed < 2.0\nelapsed = time.perf_counter() - s\n",
        "import time as t\nassert t.time() - t0 <= 1\n",
        "from time import perf_counter as pc\nassert (pc() - s) * 1000 < 50\n",
        "import time\nstarted, cpu = time.monotonic(), 0\nassert 10 > time.monotonic() - started\n",
        "import time\nself.closed_at = time.monotonic()\nassert x.closed_at - other < 1.0\n",
        "import time\nassert ok and time.monotonic() - started < 2 * LIMIT + 1, 'slow'\n",
        # CPU time is a clock too
        "import time\ncpu = time.process_time()\nf()\nassert time.process_time() - cpu < 1\n",
        "from time import process_time_ns as cpu\nassert cpu() - before <= 10**9\n",
        "import time\nassert time.thread_time() - t0 < 0.5\n",
        # a duration returned by a helper, alone or in a tuple
        "import time\ndef cost(f):\n    started = time.process_time()\n    f()\n"
        "    cpu = time.process_time() - started\n    return f, cpu\n"
        "raised, cpu_s = cost(g)\nassert cpu_s < 5\n",
        "import time\ndef took():\n    return time.perf_counter() - s\nassert took() < 2\n",
        # a deadline asserted is a bound on speed too: a safety net calls pytest.fail
        "import time\ndeadline = time.monotonic() + 5\nassert time.monotonic() < deadline\n",
    ]
    untimed = [
        "import time\ndeadline = time.monotonic() + 5\nwhile not done():\n"
        "    if time.monotonic() > deadline:\n        pytest.fail('never done')\n",
        "import time\nstarted = time.monotonic()\nassert time.monotonic() - started > 0.5\n",
        "import time\nwhile time.monotonic() - started < 5:\n    pass\n",
        "import time\ncpu = time.process_time() - started\nassert count - seen < 3\n",
        "assert len(rows) - 1 < 10\n",
        "import time\ndef cost(f):\n    cpu = time.process_time() - s\n    return f(), cpu\n"
        "raised, _ = cost(g)\nassert raised < 5\n",
        "import time\nassert time.process_time() - cpu > 0\n",
    ]
    assert [bool(timed_assertions(source)) for source in timed] == [True] * len(timed)
    assert [timed_assertions(source) for source in untimed] == [[]] * len(untimed)
    assert timed_assertions(timed[0]) == [3]


def test_the_scan_reads_the_suite() -> None:
    modules = {path.relative_to(TESTS).as_posix() for path in _test_modules()}
    assert "unit/test_no_timed_assertions.py" in modules
    assert "e2e/test_serve.py" in modules
    assert not any(module.startswith(("browser/", "js/")) for module in modules)


def test_no_test_asserts_a_wall_clock_duration() -> None:
    timed = [
        f"tests/{path.relative_to(TESTS).as_posix()}:{line}"
        for path in _test_modules()
        for line in timed_assertions(path.read_text(encoding="utf-8"))
    ]
    assert not timed, (
        "a test asserts a duration (it depends on the machine's speed): assert the behaviour "
        f"the time stood for, and measure the speed in bench/: {timed}"
    )
