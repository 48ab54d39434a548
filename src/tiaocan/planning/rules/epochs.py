"""Epochs as a ceiling, the loss band as the stop.

Fewer examples need more passes. We scale epochs as 3 x sqrt(1000 / N_eff) (3 epochs at 1k examples, the
common SFT default; ~1 at 10k; the 10-epoch ceiling below ~110), where N_eff also counts long answers
(one example per 256 response tokens) because a long answer is several short ones' worth of signal.
Practitioner rule: stay within ~10 epochs and stop once the training loss is in 0.7-1.4.
"""
from __future__ import annotations

import math

from ...config import LOSS_BAND
from ..result import Rec
from . import Ctx, register

MAX_EPOCHS = 10
TOKENS_PER_EXAMPLE = 256
BAND = list(LOSS_BAND)


def epochs_for(num_examples: int, response_tokens: int) -> int:
    n_eff = max(num_examples, response_tokens / TOKENS_PER_EXAMPLE)
    return int(min(MAX_EPOCHS, max(1, round(3 * math.sqrt(1000 / n_eff)))))


@register("epochs")
def epochs(ctx: Ctx) -> list[Rec]:
    d = ctx.data
    e = epochs_for(ctx.train_examples, d.response_tokens)
    user = ctx.user.get("num_train_epochs")
    if user is not None and float(user) > MAX_EPOCHS:
        ctx.notes.append(ctx.text("num_train_epochs", "over_ceiling", epochs=user, ceiling=MAX_EPOCHS))
    out = [ctx.rec("num_train_epochs", float(e), "size", "practitioner rule (<= 10 epochs) + tiaocan scaling",
                   epochs=e, n=ctx.train_examples, tokens=d.response_tokens, ceiling=MAX_EPOCHS)]
    out.append(ctx.rec("stop_loss_band", list(BAND), "band", "practitioner rule (loss 0.7-1.4)",
                       low=BAND[0], high=BAND[1]))
    return out
