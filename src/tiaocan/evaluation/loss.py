"""Held-out loss and perplexity, with exactly the tokens and masks training uses (`data.render_dataset`)."""
from __future__ import annotations

import math
from typing import Optional

from ..data import IGNORE, render_dataset


def heldout_loss(model, tokenizer, test_ds, cutoff_len: int = 1024, truncation: str = "keep_response",
                 batch_size: int = 8) -> tuple[Optional[float], list[Optional[float]], int]:
    """(mean loss over all answer tokens, per-row mean loss or None, rows that had answer tokens).

    Token-weighted (sum of token losses / number of answer tokens), so long answers count per token,
    the way perplexity is defined. Rows without answer tokens (no reference answer) get None.
    """
    import torch

    rendered = render_dataset(test_ds.select_columns(["messages"]).add_column("_row", list(range(len(test_ds)))),
                              tokenizer, cutoff_len, truncation, drop_unusable=True, desc="tokenizing test set")
    per_row: list[Optional[float]] = [None] * len(test_ds)
    if len(rendered) == 0:
        return None, per_row, 0
    rows, ids_all, labels_all = rendered["_row"], rendered["input_ids"], rendered["labels"]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = next(model.parameters()).device
    total_nll, total_tokens = 0.0, 0
    order = sorted(range(len(rows)), key=lambda k: len(ids_all[k]))  # similar lengths together: less padding
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            batch = order[b:b + batch_size]
            width = max(len(ids_all[k]) for k in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            for r, k in enumerate(batch):
                n = len(ids_all[k])
                ids[r, :n] = torch.tensor(ids_all[k])
                labels[r, :n] = torch.tensor(labels_all[k])
                attention[r, :n] = 1
            logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits.float()
            # Shift: the logits at position t predict token t+1 (as in the causal-LM loss of training).
            shift_logits, shift_labels = logits[:, :-1], labels[:, 1:].to(device)
            nll = torch.nn.functional.cross_entropy(shift_logits.reshape(-1, shift_logits.size(-1)),
                                                    shift_labels.reshape(-1), ignore_index=IGNORE,
                                                    reduction="none").view(shift_labels.shape)
            mask = shift_labels != IGNORE
            for r, k in enumerate(batch):
                count = int(mask[r].sum())
                if count:
                    s = float(nll[r][mask[r]].sum())
                    per_row[rows[k]] = s / count
                    total_nll += s
                    total_tokens += count
    if was_training:
        model.train()
    if total_tokens == 0:
        return None, per_row, 0
    return total_nll / total_tokens, per_row, sum(1 for v in per_row if v is not None)


def perplexity(loss: Optional[float]) -> Optional[float]:
    if loss is None:
        return None
    return math.exp(min(loss, 50.0))  # capped: exp of a diverged loss is not a useful number
