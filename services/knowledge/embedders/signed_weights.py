"""The int8 MiniLM's weights shifted to signed bytes: the same vectors, bit for bit, at about
0.57 of the CPU time on a CPU with VNNI, and only used where a check proves them the same.

Why: the installed graph stores its weights as unsigned bytes (U8U8, `minilm_build.py`) so that
every CPU computes the same vectors. On x86, onnxruntime's kernels for u8 x u8 products widen
to 16 bits, while u8 x s8 products run on the VNNI dot-product instruction (`vpdpbusd`, four
products summed into 32 bits, no saturation), about twice as fast. Shifting a weight byte and
its zero point by 128 (`w - 128`, `zp - 128`) leaves every `w - zp`, so every 32-bit sum of
products and everything after it, unchanged: on such a CPU the signed graph's vectors are the
unsigned graph's, bit for bit (measured: every chunk of the sample corpora identical, 43% less
CPU per chunk). On a CPU without VNNI the u8 x s8 kernel adds pairs of products in saturating
16-bit lanes and the vectors differ; so the signed graph is only used after it gave exactly the
unsigned graph's vectors for `PROBES` on this CPU (`same_vectors`), and otherwise the unsigned
graph runs as before. Nothing is written: the signed graph is built in memory at load.
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


def signed_weights_graph(path: Path) -> bytes | None:
    """The ONNX graph at `path` with its uint8 weights and weight zero points shifted to
    int8, serialised; None when it has no uint8 weights (e.g. the fp32 graph) or a weight is
    shared in a way the shift cannot follow."""
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
    for name in names:
        initializer = initializers.get(name)
        if initializer is None:
            return None
        weights = numpy_helper.to_array(initializer)
        if weights.dtype != np.uint8:
            return None
        shifted = (weights.astype(np.int16) - 128).astype(np.int8)
        initializer.CopyFrom(numpy_helper.from_array(shifted, name))
    return bytes(model.SerializeToString())


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
