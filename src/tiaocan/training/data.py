"""Training data: load → split → render (the same `tiaocan.data.render_dataset` inspect uses) → collator.

Padding wastes compute, so batches are built padding-free when we can: with `packing: true` the
micro-batch is flattened into one row (DataCollatorWithFlattening: position_ids restart per example, so
attention stays inside each example); otherwise examples of similar length are grouped into the same
micro-batch (group_by_length) and padded only to the longest in that batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..derive import held_out
from ..errors import UserError

if TYPE_CHECKING:
    from ..config import TrainConfig

MODEL_COLUMNS = ("input_ids", "labels")


@dataclass
class TrainData:
    train: Any  # datasets.Dataset with input_ids, labels
    eval: Any | None
    collator: Any
    packed: bool  # padding-free flattening in use
    group_by_length: bool
    mean_tokens: float  # mean input tokens per training example (after truncation)
    n_truncated: int
    n_dropped: int


def template_overhead(tokenizer) -> int:
    """Tokens the chat template adds around a one-turn conversation (system prompt, role tags, end marks)."""
    from ..data import render_messages

    probe = [{"role": "user", "content": "?"}, {"role": "assistant", "content": "."}]
    r = render_messages(probe, tokenizer)
    return max(0, len(r["input_ids"]) - 2)


def split_eval(ds, val_size: float, seed: int):
    """val_size < 1: share of the data; >= 1: number of examples. Returns (train, eval)."""
    n = len(ds)
    n_eval = held_out(n, val_size)  # the plan predicts the split with the same function
    if n_eval < 1:
        raise UserError(f"val_size: {val_size:g} of {n} examples is less than one example; raise val_size or set it to 0")
    if n_eval >= n:
        raise UserError(f"val_size: {val_size:g} leaves no training examples out of {n}; use a share below 1 "
                        "(e.g. 0.1) or a smaller count")
    parts = ds.train_test_split(test_size=n_eval, seed=seed, shuffle=True)
    return parts["train"], parts["test"]


def _render(cfg: "TrainConfig", ds, tokenizer, what: str):
    from ..data import render_dataset

    n_before = len(ds)
    out = render_dataset(ds, tokenizer, cfg.cutoff_len, cfg.truncation, train_on_prompt=cfg.train_on_prompt,
                         desc=f"tokenizing {what}")
    n_trunc = sum(out["truncated"]) if "truncated" in out.column_names else 0
    n_drop = n_before - len(out)
    if len(out) == 0:
        raise UserError(f"no usable {what} examples: all {n_before} were dropped at cutoff_len {cfg.cutoff_len} "
                        f"(truncation: {cfg.truncation}). Run `tiaocan inspect` and raise cutoff_len.")
    keep = [c for c in out.column_names if c in MODEL_COLUMNS]
    return out.select_columns(keep), n_trunc, n_drop


def supports_packing(model) -> bool:
    """Flattened batches need attention that honours restarting position_ids: models on transformers'
    attention interface (masking_utils builds the block-diagonal mask from position_ids)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return bool(getattr(base, "_supports_attention_backend", False))


def prepare_data(cfg: "TrainConfig", tokenizer, model) -> TrainData:
    from ..data import load_dataset

    if not cfg.dataset:
        raise UserError("no training data: set dataset: (a .json/.jsonl/.csv/.parquet file, or names from "
                        "dataset_dir/dataset_info.json), e.g. `tiaocan train dataset=data.jsonl`")
    overhead = template_overhead(tokenizer)
    if cfg.cutoff_len <= overhead:
        raise UserError(f"cutoff_len: {cfg.cutoff_len} is not more than the chat template's own overhead of "
                        f"{overhead} tokens, so no text would fit. Raise cutoff_len (run `tiaocan inspect`).")
    ds = load_dataset(cfg.dataset, cfg.dataset_dir, cfg.formatting, cfg.max_samples)
    warn_empty_answers(ds, cfg.dataset)
    ev = None
    if cfg.eval_dataset:
        ev = load_dataset(cfg.eval_dataset, cfg.dataset_dir, cfg.formatting, None)
    elif cfg.val_size > 0:
        ds, ev = split_eval(ds, cfg.val_size, cfg.seed)
    train, n_trunc, n_drop = _render(cfg, ds, tokenizer, "training")
    if ev is not None:
        ev, _, _ = _render(cfg, ev, tokenizer, "eval")
    lengths = [len(x) for x in train["input_ids"]]
    packed = cfg.packing and (model is None or supports_packing(model))  # None: measuring the data only
    if cfg.packing and not packed:
        import warnings

        warnings.warn(f"packing: true is not supported by {type(model).__name__}; using length-grouped batches")
    return TrainData(train=train, eval=ev, collator=make_collator(tokenizer, packed), packed=packed,
                     group_by_length=not packed and cfg.per_device_train_batch_size > 1,
                     mean_tokens=sum(lengths) / len(lengths), n_truncated=n_trunc, n_dropped=n_drop)


def warn_empty_answers(ds, source: str) -> list[int]:
    """The warning inspect gives, at training time too: an empty answer (a short CSV row, a blank output) teaches
    the model to stop at once. Returns the 1-based record numbers."""
    empty = [i + 1 for i, msgs in enumerate(ds["messages"])
             if any(m["role"] == "assistant" and not (m["content"] or "").strip() for m in msgs)]
    if empty:
        import warnings

        shown = ", ".join(map(str, empty[:5])) + (", …" if len(empty) > 5 else "")
        warnings.warn(f"{source}: {len(empty)} example(s) have an empty answer (records {shown}); they teach the "
                      "model to answer with nothing. Fill in or remove them (a CSV row with too few fields "
                      "does this).", stacklevel=2)
    return empty


def make_collator(tokenizer, packed: bool):
    import torch
    from transformers import DataCollatorForSeq2Seq, DataCollatorWithFlattening

    if packed:
        # separator_id -100: the first token of each packed example is not predicted from the previous one.
        return DataCollatorWithFlattening(return_position_ids=True, separator_id=-100)
    # Pad to a multiple of 8 only on GPUs (tensor-core tiles); on CPU every pad token is wasted work.
    return DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100,
                                  pad_to_multiple_of=8 if torch.cuda.is_available() else None)
