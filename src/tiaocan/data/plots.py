"""Length histogram PNG for `inspect` (matplotlib, headless)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def length_histogram(full: np.ndarray, prompt: np.ndarray, response: np.ndarray, cutoff: int, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    top = max(int(full.max()) if full.size else 1, cutoff)
    bins = np.linspace(0, top * 1.02, 60)
    for arr, label, alpha in ((full, "full sequence", 0.55), (prompt, "prompt", 0.45), (response, "response", 0.45)):
        ax.hist(arr, bins=bins, alpha=alpha, label=label)
    ax.axvline(cutoff, color="crimson", linestyle="--", label=f"cutoff_len = {cutoff}")
    cut = int((full > cutoff).sum())
    ax.set_title(f"Token lengths ({full.size} examples, {cut} longer than cutoff_len)")
    ax.set_xlabel("tokens")
    ax.set_ylabel("examples")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
