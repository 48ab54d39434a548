"""The training loss computed only where a token is predicted.

In SFT most positions are prompt (labels -100), yet a plain causal-LM forward projects every position onto the
vocabulary (SmolLM2: 576 x 49,152, a fifth of the model's FLOPs) and upcasts all those logits to fp32 for the
loss. transformers' models take `logits_to_keep` (a boolean mask since 4.5x), so we ask for logits only at positions
whose next token is a label and compute the same token-summed cross-entropy the model would.
The result equals the model's own loss (same normalisation by `num_items_in_batch`); tests check it.
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


def label_only_loss(model, inputs: dict, num_items_in_batch=None) -> torch.Tensor | None:
    """Cross-entropy summed over label tokens / num_items_in_batch (or / their count); None if nothing to predict."""
    inputs = dict(inputs)
    labels = inputs.pop("labels")
    shift = inputs.pop("shift_labels", None)
    targets = shift if shift is not None else F.pad(labels[..., 1:], (0, 1), value=IGNORE)
    keep = targets != IGNORE  # position t predicts targets[t]
    n = keep.sum()
    if int(n) == 0:
        return None
    out = model(**inputs, logits_to_keep=keep, use_cache=False)
    logits = out.logits.float()  # (n kept, vocab): the model's loss upcasts the same way
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets[keep], reduction="sum")
    return loss / (num_items_in_batch if num_items_in_batch is not None else n)
