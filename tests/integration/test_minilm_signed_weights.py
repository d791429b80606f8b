"""The installed int8 MiniLM run with its weights as signed bytes (`signed_weights.py`): the
very same vectors, bit for bit, or the graph runs as installed.

The vectors decide search results and the offline answers, so "the same" means
`np.array_equal`, over the golden texts (short, long, truncated, unicode, empty) and real
chunks of every sample corpus, not a cosine.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from backend.config import Settings
from services.knowledge.embedders import MiniLMEmbedder, minilm
from services.knowledge.embedders import minilm_build as build
from services.knowledge.embedders.signed_weights import signed_weights

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "minilm_golden.json"
CORPORA = Path(__file__).resolve().parents[2] / "sample_data" / "corpora"
MODEL_DIR = Settings().embeddings.models_dir / build.MODEL_NAME
MODEL = MODEL_DIR / build.MODEL_FILE

pytestmark = pytest.mark.skipif(
    not build.is_installed(MODEL_DIR),
    reason=f"local model not installed in {MODEL_DIR}; run `almanac model install`",
)


def texts() -> list[str]:
    """The golden texts, and paragraphs of every sample corpus (two per file)."""
    data = json.loads(GOLDEN.read_text(encoding="utf-8"))
    found = [item["text"] for item in data["items"]]
    for path in sorted(CORPORA.glob("*/documents/**/*")):
        if path.suffix not in {".md", ".rst", ".html", ".txt"}:
            continue
        paragraphs = path.read_text(encoding="utf-8", errors="replace").split("\n\n")
        found += [p for p in paragraphs if len(p) > 200][:2]
    return found


def cpu_has_vnni() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8").split()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


@pytest.fixture
def fresh_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's embedders decide again (the decision is kept per process)."""
    monkeypatch.setattr(minilm, "_SIGNED_EXACT", {})


def test_the_embedder_gives_the_installed_graphs_vectors_bit_for_bit(
    fresh_decision: None,
) -> None:
    sample = texts()
    assert len(sample) > 100
    default = MiniLMEmbedder(MODEL_DIR, threads=2)
    installed = MiniLMEmbedder(MODEL_DIR, threads=2, signed_weights=False)
    assert np.array_equal(default.embed_documents(sample), installed.embed_documents(sample))
    for text in sample[:20]:
        assert np.array_equal(default.embed_query(text), installed.embed_query(text))
    assert not installed.runs_signed_weights


@pytest.mark.skipif(not cpu_has_vnni(), reason="this CPU has no VNNI: signed weights would differ")
def test_a_cpu_with_vnni_runs_the_signed_weights(fresh_decision: None) -> None:
    embedder = MiniLMEmbedder(MODEL_DIR)
    embedder.warm_up()
    assert embedder.runs_signed_weights
    again = MiniLMEmbedder(MODEL_DIR)  # the decision is kept: no second check
    again.warm_up()
    assert again.runs_signed_weights


def test_the_signed_graph_shifts_every_quantized_weight_by_128() -> None:
    import onnx
    from onnx import numpy_helper

    before = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(MODEL)).graph.initializer}
    shifted = signed_weights(MODEL)
    assert shifted is not None
    assert len(shifted) == 2 * (6 * 3 + 6)  # weights and zero points: 3 MatMuls, QAttention
    for name, after in shifted.items():
        assert before[name].dtype == np.uint8 and after.dtype == np.int8
        assert np.array_equal(after.astype(np.int16), before[name].astype(np.int16) - 128)


def test_a_graph_without_uint8_weights_has_no_signed_twin(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "fp32",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor("w", TensorProto.FLOAT, [2, 2], [1.0, 0.0, 0.0, 1.0])],
    )
    onnx.save_model(helper.make_model(graph), str(tmp_path / "fp32.onnx"))
    assert signed_weights(tmp_path / "fp32.onnx") is None


def test_a_signed_graph_that_computes_other_vectors_is_not_used(
    fresh_decision: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CPU whose kernel saturates u8 x s8 sums computes other vectors: stood in for here by
    signed weights whose zero points are off by one."""

    def off_by_one(path: Path) -> dict[str, np.ndarray]:
        shifted = signed_weights(path)
        assert shifted is not None
        return {
            name: np.clip(values, -128, 126) + 1 if name.endswith("zero_point") else values
            for name, values in shifted.items()
        }

    monkeypatch.setattr(minilm, "signed_weights", off_by_one)
    embedder = MiniLMEmbedder(MODEL_DIR)
    sample = texts()[:10]
    vectors = embedder.embed_documents(sample)
    assert not embedder.runs_signed_weights
    installed = MiniLMEmbedder(MODEL_DIR, signed_weights=False)
    assert np.array_equal(vectors, installed.embed_documents(sample))


def test_a_signed_graph_that_fails_to_load_leaves_the_installed_one(
    fresh_decision: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    shifted = signed_weights(MODEL)
    assert shifted is not None
    name = next(iter(shifted))
    monkeypatch.setattr(minilm, "signed_weights", lambda path: {name: np.zeros(3, np.int8)})
    embedder = MiniLMEmbedder(MODEL_DIR)
    assert embedder.embed_query("how do I back up a database?").shape == (384,)
    assert not embedder.runs_signed_weights
