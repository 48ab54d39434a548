"""The gradient noise scale estimator (McCandlish et al. 2018, appendix A) on synthetic gradients with known G and Sigma."""
import pytest
import torch

from tiaocan.probing.noise import from_gradients, noise_scale


def test_exact_expectations_give_back_g_and_sigma():
    # E|G_b|^2 = |G|^2 + tr(Sigma) / b: fed the exact expectations, the estimator must return the truth
    g2, tr, b_small, b_big = 3.0, 120.0, 2, 16
    est = noise_scale(g2 + tr / b_small, g2 + tr / b_big, b_small, b_big)
    assert est.grad_sq == pytest.approx(g2) and est.trace_sigma == pytest.approx(tr)
    assert est.b_simple == pytest.approx(tr / g2)


def test_unbiased_on_sampled_gradients():
    """Per-example gradients G + noise with a known diagonal Sigma, in small batches of 2, 8 of them (B_big 16): the
    estimates averaged over many draws land on |G|^2 and tr(Sigma) (each single draw is noisy; the mean is not)."""
    gen = torch.Generator().manual_seed(0)
    d, b_small, k, reps = 40, 2, 8, 3000
    G = 0.6 * torch.linspace(-1, 1, d, dtype=torch.float64)
    scales = torch.linspace(0.5, 2.0, d, dtype=torch.float64)
    true_g2, true_tr = float(G.square().sum()), float(scales.square().sum())
    examples = G + torch.randn(reps, k * b_small, d, generator=gen, dtype=torch.float64) * scales
    small = examples.view(reps, k, b_small, d).mean(2)  # each small batch's mean gradient
    ests = [from_gradients(small[r], b_small) for r in range(reps)]
    g2 = sum(e.grad_sq for e in ests) / reps
    tr = sum(e.trace_sigma for e in ests) / reps
    assert g2 == pytest.approx(true_g2, rel=0.05)
    assert tr == pytest.approx(true_tr, rel=0.05)
    assert all(e.b_small == 2 and e.b_big == 16 for e in ests[:3])
    # the naive reading (mean squared norm of the big batch taken as |G|^2) would be far off: the test can fail
    naive = float(small.mean(1).square().sum(-1).mean())
    assert naive > 1.5 * true_g2


def test_no_signal_gives_no_b_simple():
    # the big batch's norm above the small batches': tr(Sigma) < 0, nothing to report
    assert noise_scale(1.0, 2.0, 1, 8).b_simple is None
    with pytest.raises(ValueError, match="b_big > b_small"):
        noise_scale(1.0, 1.0, 4, 4)
