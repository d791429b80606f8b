"""The int8 MiniLM's weights shifted to signed bytes: the same vectors, bit for bit, at about
0.57 of the CPU time on a CPU with VNNI, and only used where a check proves them the same.

Why: the installed graph stores its weights as unsigned bytes (U8U8, `minilm_build.py`) so that
every CPU computes the same vectors. onnxruntime multiplies u8 x s8 on x86 CPUs with VNNI with
the dot-product instruction (`vpdpbusd`: four products summed into 32 bits, no saturation),
and u8 x u8 on a slower path. Shifting a weight byte and its zero point by 128 (`w - 128`,
`zp - 128`) leaves every `w - zp`, so every 32-bit sum of products and everything after it,
unchanged: on such a CPU the signed weights give the installed graph's vectors bit for bit
(every chunk of sqlite-docs, paragraphs of every sample corpus, the golden texts), for 43%
less CPU per chunk (docs/notes/benchmarks.md). Without VNNI the u8 x s8 kernel adds pairs of
products in saturating 16-bit lanes and the vectors differ; so the signed weights are only used
after they gave exactly the installed graph's vectors for `PROBES` on this CPU
(`same_vectors`), and otherwise the installed graph runs as before. Nothing is written: the
session opens the installed file with the shifted weights as initializer overrides (~11 MB of
arrays, no second copy of the graph).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Weight and weight-zero-point inputs of the quantized operators, by operator.
_WEIGHT_INPUTS = {"MatMulInteger": (1, 3), "QAttention": (1, 7)}

#: Texts both graphs embed before the signed one is trusted: ordinary prose of several
#: lengths (a CPU whose kernel saturates changes the vectors of nearly every text of some
#: length; one as short as a query and one at the 256-piece limit are among them).
PROBES = (
    "How do I back up a database while it is in use?",
    "Write-ahead logging keeps the original content unchanged and appends changes to a "
    "separate file; a checkpoint later moves them back into the database, so readers do not "
    "block writers and writers do not block readers.",
    "Policy",
    " ".join(
        "Every employee may take twenty-five days of paid leave a year, carried over up to "
        "five days into the next year if the manager agrees in writing before March."
        for _ in range(8)
    ),
)


def signed_weights(path: Path) -> dict[str, np.ndarray] | None:
    """The quantized weights and weight zero points of the ONNX graph at `path`, by
    initializer name, shifted from uint8 to int8; None when it has no uint8 weights (e.g. the
    fp32 graph) or one is shared in a way the shift cannot follow."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    initializers = {item.name: item for item in model.graph.initializer}
    names = [
        node.input[index]
        for node in model.graph.node
        for index in _WEIGHT_INPUTS.get(node.op_type, ())
        if index < len(node.input) and node.input[index]
    ]
    if not names or len(set(names)) != len(names):
        return None
    shifted: dict[str, np.ndarray] = {}
    for name in names:
        initializer = initializers.get(name)
        if initializer is None:
            return None
        weights = numpy_helper.to_array(initializer)
        if weights.dtype != np.uint8:
            return None
        shifted[name] = (weights.astype(np.int16) - 128).astype(np.int8)
    return shifted


def same_vectors(first: Any, second: Any, runs: Sequence[dict[str, np.ndarray]]) -> bool:
    """Whether two sessions give bit-identical outputs for every feed of `runs`."""
    for feeds in runs:
        (a,) = first.run(None, feeds)
        (b,) = second.run(None, feeds)
        if a.shape != b.shape or not np.array_equal(a, b):
            return False
    return True


def probe_feeds(encode: Callable[[str], Sequence[int]]) -> list[dict[str, np.ndarray]]:
    """The session feeds of `PROBES`, tokenised by `encode` (a text's word-piece ids)."""
    feeds = []
    for text in PROBES:
        ids = np.asarray([list(encode(text))], dtype=np.int64)
        feeds.append({"input_ids": ids, "attention_mask": np.ones_like(ids)})
    return feeds
