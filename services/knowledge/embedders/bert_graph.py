"""The BERT forward pass written directly as an ONNX graph with `onnx.helper` (no torch).

`build_bert_onnx` writes the encoder, then either mean pooling and L2 normalisation (the
embedder, `minilm_build`) or a cross-encoder's one-logit head (the reader, `reader`). The
graph is written in a fixed order of steps (embeddings, the padding mask, the attention
inputs, each layer, the output), and node and tensor names come from that order, so the same
weights always give the same file, byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_OPSET = 17  # LayerNormalization is a standard op from 17 on; onnxruntime >= 1.14 runs it.
_MASK_NEG = -10000.0  # additive attention bias for padding, as in the original BERT code
_MS = "com.microsoft"


class _GraphBuilder:
    """Tiny helper around onnx.helper: unique names, initialisers, nodes."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._counter = 0

    def const(self, name: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(
        self,
        op_type: str,
        inputs: list[str],
        name: str | None = None,
        domain: str | None = None,
        **attrs: Any,
    ) -> str:
        from onnx import helper

        self._counter += 1
        out = name or f"{op_type.lower()}_{self._counter}"
        node_name = f"{op_type}_{self._counter}"
        self.nodes.append(
            helper.make_node(op_type, inputs, [out], name=node_name, domain=domain, **attrs)
        )
        return out


def w_of(weights: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    """Tensor `name` of `weights` as float32."""
    return np.asarray(weights[name], dtype=np.float32)


def _i64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


@dataclass(frozen=True)
class _Shape:
    """The encoder's dimensions, read from a Hugging Face BertConfig dict."""

    hidden: int
    heads: int
    layers: int
    eps: float

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


def _shape_of(config: Mapping[str, Any], *, fused: bool, expose_matmul_inputs: bool) -> _Shape:
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    layers = int(config["num_hidden_layers"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    if config.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"unsupported activation {config.get('hidden_act')!r}")
    if hidden % heads:
        raise ValueError("hidden_size must be a multiple of num_attention_heads")
    if expose_matmul_inputs and fused:
        raise ValueError("expose_matmul_inputs needs fused=False (attention internals)")
    return _Shape(hidden, heads, layers, eps)


class _BertGraph:
    """One graph being written: the builder, the weights, the options and the tensors every
    layer shares. Each method appends its nodes in the order the graph computes them."""

    def __init__(
        self,
        weights: Mapping[str, np.ndarray],
        shape: _Shape,
        *,
        smoothing: Mapping[str, np.ndarray] | None,
        expose_matmul_inputs: bool,
        zero_padding: bool,
    ) -> None:
        self.g = _GraphBuilder()
        self.weights = weights
        self.shape = shape
        self.smoothing = smoothing or {}
        self.expose_matmul_inputs = expose_matmul_inputs
        self.zero_padding = zero_padding
        self.exposed: list[str] = []
        g = self.g
        self.axes1 = g.const("axes_1", _i64(1))
        self.zero_1d = g.const("zero_1d", _i64(0))
        self.one = self.scalar("one_f", 1.0)
        self.sqrt2 = self.scalar("sqrt2", math.sqrt(2.0))
        self.half = self.scalar("half_f", 0.5)
        self.mask_f = self.mask3 = self.mask_i32 = ""
        self.mask_bias = self.attn_scale = self.split_heads = self.merge_heads = ""

    def w(self, name: str) -> np.ndarray:
        return w_of(self.weights, name)

    def scalar(self, name: str, value: float) -> str:
        return self.g.const(name, np.array(value, dtype=np.float32))

    def embeddings(self) -> str:
        """word[ids] + (position + token_type[0])[:seq], then LayerNorm."""
        g, w, eps = self.g, self.w, self.shape.eps
        word = g.const("word_embeddings", w("embeddings.word_embeddings.weight"))
        pos_table = w("embeddings.position_embeddings.weight")
        pos = g.const(
            "position_embeddings", pos_table + w("embeddings.token_type_embeddings.weight")[0]
        )
        seq_len = g.op(
            "Slice", [g.op("Shape", ["input_ids"]), self.axes1, g.const("two_1d", _i64(2))]
        )
        pos_rows = g.op("Slice", [pos, self.zero_1d, seq_len, self.zero_1d])
        x = g.op("Add", [g.op("Gather", [word, "input_ids"]), pos_rows])
        return g.op(
            "LayerNormalization",
            [x, g.const("emb_ln.weight", w("embeddings.LayerNorm.weight")),
             g.const("emb_ln.bias", w("embeddings.LayerNorm.bias"))],
            axis=-1,
            epsilon=eps,
        )  # fmt: skip

    def padding_mask(self, x: str) -> str:
        """The attention mask as float [batch, seq, 1]; with `zero_padding`, applied to `x`."""
        from onnx import TensorProto

        g = self.g
        self.mask_f = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
        self.mask3 = g.op("Unsqueeze", [self.mask_f, g.const("axes_last", _i64(-1))])
        return g.op("Mul", [x, self.mask3]) if self.zero_padding else x

    def attention_inputs(self, fused: bool) -> None:
        """The mask as the fused Attention op takes it, or the tensors of standard attention."""
        from onnx import TensorProto

        g = self.g
        if fused:
            self.mask_i32 = g.op("Cast", ["attention_mask"], to=TensorProto.INT32)
            return
        # Additive attention bias [batch, 1, 1, seq]: 0 for tokens, -10000 for padding.
        mask4 = g.op("Unsqueeze", [self.mask_f, g.const("axes_1_2", _i64(1, 2))])
        self.mask_bias = g.op(
            "Mul", [g.op("Sub", [self.one, mask4]), self.scalar("mask_neg", _MASK_NEG)]
        )
        self.attn_scale = self.scalar("attn_scale", 1.0 / math.sqrt(self.shape.head_dim))
        self.split_heads = g.const("split_heads", _i64(0, 0, self.shape.heads, self.shape.head_dim))
        self.merge_heads = g.const("merge_heads", _i64(0, 0, self.shape.hidden))

    def smoothed(self, inp: str, key: str, weight_t: np.ndarray) -> tuple[str, np.ndarray]:
        """Apply smoothing factor `key` (if any) to an activation and its [in, out] weight."""
        g = self.g
        if self.expose_matmul_inputs:
            self.exposed.append(g.op("Identity", [inp], name=key))
        factors = self.smoothing.get(key)
        if factors is None or key.endswith(".ao"):
            return inp, weight_t
        factors = np.asarray(factors, dtype=np.float32)
        inv = g.const(f"smooth.{key}", (1.0 / factors).astype(np.float32))
        return g.op("Mul", [inp, inv]), weight_t * factors[:, None]

    def dense(self, inp: str, prefix: str, key: str) -> str:
        """inp @ W^T + b for a torch Linear `prefix` (MatMul then Add: ORT fuses the bias)."""
        g = self.g
        inp, weight_t = self.smoothed(inp, key, self.w(f"{prefix}.weight").T)
        out = g.op("MatMul", [inp, g.const(f"{prefix}.weight_t", weight_t)])
        return g.op("Add", [out, g.const(f"{prefix}.bias", self.w(f"{prefix}.bias"))])

    def add_norm(self, inp: str, residual: str, prefix: str) -> str:
        """LayerNorm(inp + residual): BERT's post-LN sub-layer output.

        Add + LayerNormalization rather than com.microsoft.SkipLayerNormalization: the latter
        took 18% of the int8 run time here, Add + LayerNormalization 7% (the embedder also
        turns off onnxruntime's SkipLayerNormFusion for this reason).
        """
        g = self.g
        gamma = g.const(f"{prefix}.weight", self.w(f"{prefix}.weight"))
        beta = g.const(f"{prefix}.bias", self.w(f"{prefix}.bias"))
        summed = g.op("Add", [inp, residual])
        normed = g.op("LayerNormalization", [summed, gamma, beta], axis=-1, epsilon=self.shape.eps)
        return g.op("Mul", [normed, self.mask3]) if self.zero_padding else normed

    def layer(self, i: int, x: str, fused: bool) -> str:
        """Encoder layer `i`: self-attention, then the feed-forward block, each add & norm."""
        p = f"encoder.layer.{i}"
        attn = f"{p}.attention.self"
        q_w, k_w, v_w = (self.w(f"{attn}.{n}.weight").T for n in ("query", "key", "value"))
        q_b, k_b, v_b = (self.w(f"{attn}.{n}.bias") for n in ("query", "key", "value"))
        ao_w = self.w(f"{p}.attention.output.dense.weight").T
        if f"{i}.ao" in self.smoothing:  # ctx is linear in V: scale V's outputs, not the activation
            factors = np.asarray(self.smoothing[f"{i}.ao"], dtype=np.float32)
            v_w, v_b, ao_w = v_w / factors, v_b / factors, ao_w * factors[:, None]
        qkv_in, qkv_w = self.smoothed(x, f"{i}.qkv", np.concatenate([q_w, k_w, v_w], axis=1))
        if fused:
            ctx = self.fused_attention(p, qkv_in, qkv_w, np.concatenate([q_b, k_b, v_b]))
        else:
            ctx = self.standard_attention(attn, qkv_in, qkv_w, (q_b, k_b, v_b))
        x = self.attention_output(i, p, ctx, ao_w, x)
        return self.feed_forward(i, p, x)

    def fused_attention(self, p: str, qkv_in: str, qkv_w: np.ndarray, qkv_b: np.ndarray) -> str:
        g = self.g
        return g.op(
            "Attention",
            [qkv_in, g.const(f"{p}.attention.qkv.weight", qkv_w),
             g.const(f"{p}.attention.qkv.bias", qkv_b), self.mask_i32],
            domain=_MS,
            num_heads=self.shape.heads,
        )  # fmt: skip

    def standard_attention(
        self, attn: str, qkv_in: str, qkv_w: np.ndarray, biases: tuple[np.ndarray, ...]
    ) -> str:
        g, hidden = self.g, self.shape.hidden
        heads_out = []
        for j, (bias, perm) in enumerate(
            zip(biases, ([0, 2, 1, 3], [0, 2, 3, 1], [0, 2, 1, 3]), strict=True)
        ):
            name = ("query", "key", "value")[j]
            weight = g.const(f"{attn}.{name}.weight_t", qkv_w[:, j * hidden : (j + 1) * hidden])
            out = g.op(
                "Add", [g.op("MatMul", [qkv_in, weight]), g.const(f"{attn}.{name}.bias", bias)]
            )
            heads_out.append(
                g.op("Transpose", [g.op("Reshape", [out, self.split_heads])], perm=perm)
            )
        q, k, v = heads_out
        scores = g.op(
            "Add", [g.op("Mul", [g.op("MatMul", [q, k]), self.attn_scale]), self.mask_bias]
        )
        probs = g.op("Softmax", [scores], axis=-1)
        ctx = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        return g.op("Reshape", [ctx, self.merge_heads])

    def attention_output(self, i: int, p: str, ctx: str, ao_w: np.ndarray, x: str) -> str:
        g = self.g
        if self.expose_matmul_inputs:
            self.exposed.append(g.op("Identity", [ctx], name=f"{i}.ao"))
        ao = g.op("MatMul", [ctx, g.const(f"{p}.attention.output.dense.weight_t", ao_w)])
        ao = g.op(
            "Add",
            [
                ao,
                g.const(
                    f"{p}.attention.output.dense.bias", self.w(f"{p}.attention.output.dense.bias")
                ),
            ],
        )
        return self.add_norm(ao, x, f"{p}.attention.output.LayerNorm")

    def feed_forward(self, i: int, p: str, x: str) -> str:
        """Feed-forward with exact (erf) GELU, in the layout ORT's GeluFusion recognises:
        (h * (erf(h / sqrt(2)) + 1)) * 0.5."""
        g = self.g
        h = self.dense(x, f"{p}.intermediate.dense", f"{i}.ffn_in")
        erf = g.op("Add", [g.op("Erf", [g.op("Div", [h, self.sqrt2])]), self.one])
        act = g.op("Mul", [g.op("Mul", [h, erf]), self.half])
        out = self.dense(act, f"{p}.output.dense", f"{i}.ffn_out")
        return self.add_norm(out, x, f"{p}.output.LayerNorm")

    def score_output(self, x: str, head: Mapping[str, np.ndarray]) -> Any:
        """A cross-encoder's head on the first token: dense + tanh + one logit, `score`."""
        from onnx import TensorProto, helper

        g = self.g
        first = g.op("Gather", [x, g.const("first_token", np.array(0, dtype=np.int64))], axis=1)
        dense_w = np.asarray(head["head.dense.weight"], dtype=np.float32).T
        hid = g.op("MatMul", [first, g.const("head.dense.weight_t", dense_w)])
        hid = g.op("Add", [hid, g.const("head.dense.bias", w_of(head, "head.dense.bias"))])
        out_w = np.asarray(head["head.out.weight"], dtype=np.float32).T
        logit = g.op("MatMul", [g.op("Tanh", [hid]), g.const("head.out.weight_t", out_w)])
        logit = g.op("Add", [logit, g.const("head.out.bias", w_of(head, "head.out.bias"))])
        g.op("Reshape", [logit, g.const("score_shape", _i64(-1))], name="score")
        return helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch"])

    def embedding_output(self, x: str) -> Any:
        """Mean pooling over real tokens, then L2 normalisation: `sentence_embedding`."""
        from onnx import TensorProto, helper

        g = self.g
        summed = g.op("ReduceSum", [g.op("Mul", [x, self.mask3]), self.axes1], keepdims=0)
        counts = g.op(
            "Max",
            [g.op("ReduceSum", [self.mask3, self.axes1], keepdims=0),
             self.scalar("pool_eps", 1e-9)],
        )  # fmt: skip
        pooled = g.op("Div", [summed, counts])
        norm = g.op("ReduceL2", [pooled], axes=[-1], keepdims=1)
        g.op(
            "Div",
            [pooled, g.op("Max", [norm, self.scalar("norm_eps", 1e-12)])],
            name="sentence_embedding",
        )
        return helper.make_tensor_value_info(
            "sentence_embedding", TensorProto.FLOAT, ["batch", self.shape.hidden]
        )

    def save(self, output: Any, out_path: Path, *, fused: bool) -> Path:
        """Check the graph and write it as a model readable by every onnxruntime >= 1.14."""
        import onnx
        from onnx import TensorProto, helper

        float_out = helper.make_tensor_value_info
        graph = helper.make_graph(
            self.g.nodes,
            "minilm_sentence_embedding",
            inputs=[
                helper.make_tensor_value_info(
                    "input_ids", TensorProto.INT64, ["batch", "sequence"]
                ),
                helper.make_tensor_value_info(
                    "attention_mask", TensorProto.INT64, ["batch", "sequence"]
                ),
            ],
            outputs=[
                output,
                *(
                    float_out(name, TensorProto.FLOAT, ["batch", "sequence", None])
                    for name in self.exposed
                ),
            ],
            initializer=self.g.initializers,
        )
        opsets = [helper.make_opsetid("", _OPSET)]
        if fused:
            opsets.append(helper.make_opsetid(_MS, 1))
        model = helper.make_model(graph, opset_imports=opsets, producer_name="almanac")
        model.ir_version = 8  # readable by every onnxruntime >= 1.14
        onnx.checker.check_model(model, full_check=not fused)  # the checker has no contrib schemas
        out_path = Path(out_path)
        onnx.save_model(model, str(out_path))
        return out_path


def build_bert_onnx(
    weights: Mapping[str, np.ndarray],
    config: Mapping[str, Any],
    out_path: Path,
    *,
    fused: bool = True,
    smoothing: Mapping[str, np.ndarray] | None = None,
    expose_matmul_inputs: bool = False,
    zero_padding: bool = True,
    head: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Write a BERT encoder + mean pooling + L2 normalisation as an fp32 ONNX graph.

    With `head` (`head.dense.weight`/`.bias`, `head.out.weight`/`.bias`: a cross-encoder's
    head on the first token, dense + tanh + one logit) the output is `score`, float32
    [batch], instead of the sentence embedding (the offline reader, `reader_build`).

    Inputs: `input_ids` and `attention_mask`, int64 [batch, seq]. Output:
    `sentence_embedding`, float32 [batch, hidden], unit length. Segment ids are always 0 for
    single texts, so the token-type embedding row 0 is folded into the position table.
    Pooling and normalisation live in the graph so every caller gets the same vectors.
    Shapes come from `config` (a Hugging Face BertConfig dict), so tests can build tiny models.

    `fused` (default) computes self-attention with onnxruntime's `com.microsoft.Attention`,
    which quantises to `QAttention` (one int8 GEMM for Q, K and V, fused softmax): ~8%
    faster end to end here. Everything else stays standard ONNX written in the layouts
    onnxruntime's own graph fusions recognise (Gelu, MatMul+bias). `fused=False` writes
    standard ops only (portable; used for calibration and to cross-check). The transformer
    optimizer in `onnxruntime.transformers` is not used: it needs sympy and did not fuse the
    attention of a hand-written graph.

    `smoothing` (SmoothQuant) maps "{layer}.{qkv|ao|ffn_in|ffn_out}" to per-input-channel
    factors s: the weight rows are multiplied by s and the activation divided by s, which
    changes nothing in exact arithmetic but flattens the activation outliers that per-tensor
    int8 quantisation of activations handles badly. "ao" is folded into the value
    projection for free; the others cost one elementwise Mul. `expose_matmul_inputs` adds
    those four activations per layer as extra outputs (named like the keys) for calibration.

    `zero_padding` multiplies the hidden states by the attention mask after every
    LayerNorm. Exact for the real tokens; it stops padding rows, whose values are large, from
    widening the per-tensor int8 activation ranges of a whole batch (worst cosine to the
    reference in a padded batch, smoothing on: 0.990 -> 0.995), for ~2% run time.
    """
    shape = _shape_of(config, fused=fused, expose_matmul_inputs=expose_matmul_inputs)
    graph = _BertGraph(
        weights,
        shape,
        smoothing=smoothing,
        expose_matmul_inputs=expose_matmul_inputs,
        zero_padding=zero_padding,
    )
    x = graph.padding_mask(graph.embeddings())
    graph.attention_inputs(fused)
    for i in range(shape.layers):
        x = graph.layer(i, x, fused)
    output = graph.embedding_output(x) if head is None else graph.score_output(x, head)
    return graph.save(output, Path(out_path), fused=fused)
