"""The gradient noise scale B_simple (McCandlish et al. 2018, "An empirical model of large-batch training", appendix A).

B_simple = tr(Sigma) / |G|^2: the batch at which the noise in a batch gradient is about as large as the gradient
itself. Below it, steps are noise-dominated (a larger batch buys a nearly proportional speed-up); well above it,
extra examples per step are mostly wasted. Both terms come from gradient norms at two batch sizes: the mean of a
batch of b examples has E|G_b|^2 = |G|^2 + tr(Sigma) / b, so small batches (b_small) and their mean (B_big) give the
two unbiased estimates in `noise_scale`.

Measured here once, at the start of training, from gradients of the trainable parameters (the LoRA adapters, or the
whole model for full fine-tuning) on small batches of the training split, with no optimizer step. The noise scale
grows as training proceeds (the gradient shrinks), so a start-of-training value is a lower bound for later steps.
Small batches of one example give the most samples of |G_small|^2 for the compute: each is one example's own mean
token loss, as the training loss is.
"""
from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass
from typing import Iterable


@dataclass
class NoiseEstimate:
    grad_sq: float  # |G|^2
    trace_sigma: float  # tr(Sigma), per example
    b_simple: float | None  # None when either estimate is not positive: too few samples to tell signal from noise
    b_small: int
    b_big: int


def noise_scale(small_sq: float, big_sq: float, b_small: float, b_big: float) -> NoiseEstimate:
    """Unbiased |G|^2 and tr(Sigma) from |G_small|^2 (the mean squared norm of batch-b_small gradients) and |G_big|^2
    (the squared norm of their mean, a batch of b_big = k x b_small):
        |G|^2     = (b_big |G_big|^2 - b_small |G_small|^2) / (b_big - b_small)
        tr(Sigma) = (|G_small|^2 - |G_big|^2) / (1 / b_small - 1 / b_big)."""
    if not b_big > b_small > 0:
        raise ValueError(f"need b_big > b_small > 0, got b_small={b_small}, b_big={b_big}")
    g2 = (b_big * big_sq - b_small * small_sq) / (b_big - b_small)
    tr = (small_sq - big_sq) / (1 / b_small - 1 / b_big)
    ok = g2 > 0 and tr > 0 and math.isfinite(g2) and math.isfinite(tr)
    return NoiseEstimate(grad_sq=g2, trace_sigma=tr, b_simple=tr / g2 if ok else None, b_small=int(b_small),
                         b_big=int(b_big))


class GradientSums:
    """Running sums over small-batch gradients (flat vectors): their squared norms and their sum, so the estimate
    needs one extra gradient-sized buffer however many small batches there are."""

    def __init__(self) -> None:
        self.k, self.sq, self.total = 0, 0.0, None

    def add(self, g) -> None:
        g = g.detach().float()
        self.sq += float(g.square().sum())
        self.total = g.clone() if self.total is None else self.total.add_(g)
        self.k += 1

    def estimate(self, b_small: int) -> NoiseEstimate:
        if self.k < 2:
            raise ValueError("the noise scale needs at least 2 small-batch gradients")
        big = self.total / self.k
        return noise_scale(self.sq / self.k, float(big.square().sum()), b_small, b_small * self.k)


def from_gradients(grads: Iterable, b_small: int) -> NoiseEstimate:
    """The estimate from small-batch mean gradients (each a flat tensor over b_small examples)."""
    sums = GradientSums()
    for g in grads:
        sums.add(g)
    return sums.estimate(b_small)


def measure_noise(cfg, n_examples: int, b_small: int = 1) -> tuple[NoiseEstimate, int, float]:
    """(estimate, input tokens used, seconds) from the gradients of `n_examples` training examples (the run's split
    and rendering, a seeded draw), in small batches of `b_small`, on the model exactly as `train` loads it."""
    import torch

    from ..training.data import prepare_data
    from ..training.loss import label_only_loss, supports_label_only_logits
    from ..training.run import load_for_training
    from ..training.setup import setup_runtime

    started = time.time()
    setup_runtime(cfg)
    tokenizer, model = load_for_training(cfg)
    try:
        data = prepare_data(cfg, tokenizer, model)
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if not getattr(model, "hf_device_map", None):  # quantized models are placed at load
            model.to(device)
        model.train()  # dropout on, as in training: its noise is part of the gradient noise
        params = [p for p in model.parameters() if p.requires_grad]
        order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(cfg.seed)).tolist()
        order = order[: max(2 * b_small, n_examples)]
        label_only = supports_label_only_logits(model)
        sums, tokens = GradientSums(), 0
        autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(cfg.bf16))
        for start in range(0, len(order) - b_small + 1, b_small):
            rows = [data.train[i] for i in order[start:start + b_small]]
            batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in data.collator(rows).items()}
            with autocast:
                loss = label_only_loss(model, batch) if label_only else model(**batch).loss
            if loss is None or not torch.isfinite(loss):
                continue  # nothing to predict in these examples
            loss.backward()
            sums.add(torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).float()
                                for p in params]))
            model.zero_grad(set_to_none=True)
            tokens += sum(len(r["input_ids"]) for r in rows)
        return sums.estimate(b_small), tokens, time.time() - started
    finally:
        del model
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

