"""The training loss computed only where a token is predicted.

In SFT most positions are prompt (labels -100), yet a plain causal-LM forward projects every position onto the
vocabulary (SmolLM2: 576 x 49,152, a fifth of the model's FLOPs) and upcasts all those logits to fp32 for the
loss. transformers' models take `logits_to_keep` (a boolean mask since 4.5x), so we ask for logits only at positions
whose next token is a label and compute the same token-summed cross-entropy the model would.
The result equals the model's own loss (same normalisation by `num_items_in_batch`); tests check it.

On a GPU, finding those positions on the device batch makes the host wait for the GPU several times per micro-batch
(the count's int(), boolean-mask indexing twice forward and once backward: each needs the number of kept positions on
the host). `LabelPositions` wraps the training collator and works them out on the CPU where the batch is built, so
the loss needs no device read: for a one-row (packed) batch the positions as integers, for a padded batch the count.
"""
from __future__ import annotations

import functools
import inspect

import torch
import torch.nn.functional as F

IGNORE = -100


def _base_model(model):
    while hasattr(model, "module"):  # DDP / accelerate wrappers
        model = model.module
    return model.get_base_model() if hasattr(model, "get_base_model") else model


@functools.lru_cache(maxsize=None)
def _forward_slices_logits(cls: type) -> bool:
    try:
        params = inspect.signature(cls.forward).parameters
        source = inspect.getsource(cls.forward)
    except (TypeError, OSError, ValueError):
        return False
    # the boolean-mask form is handled by transformers' shared helper; models slicing by hand only take ints
    return "logits_to_keep" in params and "slice_logits_to_keep(" in source


def supports_label_only_logits(model) -> bool:
    """True when the (unwrapped) causal LM accepts a boolean `logits_to_keep` mask."""
    return _forward_slices_logits(type(_base_model(model)))


# What LabelPositions adds to a batch (the Trainer's compute_loss takes them out before the model sees the batch).
POSITIONS = "tiaocan_label_positions"  # one-row batches: positions whose next token is a label (1-D, int64)
TARGETS = "tiaocan_label_targets"  # ... and those next tokens
COUNT = "tiaocan_label_count"  # any batch: the number of label positions (a Python int)
TOKENS = "tiaocan_input_tokens"  # the input tokens the Trainer counts (all, or non-padding when padded)
EXTRA_KEYS = (POSITIONS, TARGETS, COUNT, TOKENS)


def _targets(labels: torch.Tensor, shift: torch.Tensor | None) -> torch.Tensor:
    return shift if shift is not None else F.pad(labels[..., 1:], (0, 1), value=IGNORE)  # position t predicts [t]


class LabelPositions:
    """A collator wrapper adding EXTRA_KEYS, computed on the CPU (see the module docstring). `count_all`: count
    every input token (packed batches have no padding), else the attention mask's ones, as the Trainer does."""

    def __init__(self, collator, count_all: bool):
        self.collator, self.count_all = collator, count_all

    def __call__(self, features, *args, **kwargs):
        batch = self.collator(features, *args, **kwargs)
        targets = _targets(batch["labels"], batch.get("shift_labels"))
        keep = targets != IGNORE
        batch[COUNT] = int(keep.sum())
        if targets.shape[0] == 1:
            batch[POSITIONS] = keep[0].nonzero().squeeze(1)
            batch[TARGETS] = targets[0, batch[POSITIONS]]
        if self.count_all:
            batch[TOKENS] = batch["input_ids"].numel()
        elif "attention_mask" in batch:
            batch[TOKENS] = int(batch["attention_mask"].sum())
        return batch


def label_only_loss(model, inputs: dict, num_items_in_batch=None) -> torch.Tensor | None:
    """Cross-entropy summed over label tokens / num_items_in_batch (or / their count); None if nothing to predict.
    Uses LabelPositions' keys when the batch has them (no device read), else finds the positions on the device."""
    inputs = dict(inputs)
    labels = inputs.pop("labels")
    shift = inputs.pop("shift_labels", None)
    positions, kept_targets, n = inputs.pop(POSITIONS, None), inputs.pop(TARGETS, None), inputs.pop(COUNT, None)
    inputs.pop(TOKENS, None)
    if positions is not None:  # one row: logits at these positions, (1, n, vocab)
        n = positions.numel()
        if n == 0:
            return None
        out = model(**inputs, logits_to_keep=positions, use_cache=False)
        targets = kept_targets
    else:
        targets = _targets(labels, shift)
        keep = targets != IGNORE
        if n is None:
            n = keep.sum()
        if int(n) == 0:  # a Python int when LabelPositions counted it: no device read
            return None
        out = model(**inputs, logits_to_keep=keep, use_cache=False)  # (n kept, vocab)
        targets = targets[keep]
    logits = out.logits.float()  # the model's loss upcasts the same way
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum")
    return loss / (num_items_in_batch if num_items_in_batch is not None else n)
