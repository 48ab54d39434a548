"""Epochs as a ceiling; the held-out loss decides when to stop, and the best checkpoint is the run's result.

Fewer examples need more passes: 3 x sqrt(1000 / N_eff) (N_eff also counts long answers, one example per 256
response tokens), at most MAX_EPOCHS = 3. Why 3 and not the practitioner's "up to 10": once the learning rate
follows the run's horizon (learning_rate.py), extra passes mostly memorise. Measured: a ~100-example support set
planned at 9 epochs ended +1.9 % above the best run, 3 epochs at a 3x higher lr +0.2 % at a third of the compute
(issue 12's trial); on the calibration suite the best held-out loss of the best configurations came within 3 epochs.
The loss band (0.7-1.4) is a training-loss target; on small, varied data the best held-out loss often comes with a
training loss far above 1.4, and training on toward the band memorises. So with a held-out split the plan stops on
held-out loss (early_stopping_patience evals without improvement) and keeps the best checkpoint (train's
load_best_model_at_end); the band is the stop only when there is no held-out split to watch.
"""
from __future__ import annotations

import math

from ...config import LOSS_BAND
from ..result import Rec
from . import Ctx, register

MAX_EPOCHS = 3
TOKENS_PER_EXAMPLE = 256
BAND = list(LOSS_BAND)
PATIENCE = 3  # evals (one every tenth of the run): 30 % of the run without a better held-out loss ends it


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
    out = [ctx.rec("num_train_epochs", float(e), "size", "tiaocan calibration (<= 3 epochs, held-out stop)",
                   epochs=e, n=ctx.train_examples, tokens=d.response_tokens, ceiling=MAX_EPOCHS)]
    held_out = float(ctx.values.get("val_size", 0) or 0) > 0 or bool(ctx.user.get("eval_dataset"))
    if held_out:
        out.append(ctx.rec("early_stopping_patience", PATIENCE, "held_out", "held-out loss (issue 12 trial, calibration)",
                           patience=PATIENCE))
    else:
        out.append(ctx.rec("stop_loss_band", list(BAND), "band", "practitioner rule (loss 0.7-1.4)",
                           low=BAND[0], high=BAND[1]))
    return out
