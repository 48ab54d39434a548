"""What the tabs share: the context (runs dir, page-wide components), path rules, formatting and charts."""
from __future__ import annotations

import html
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError

MAX_UPLOAD_MB = 200
DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet")
BUNDLED = Path(__file__).resolve().parents[1] / "examples" / "support"


@dataclass
class Ctx:
    """Built once per app; components are filled in by app.build and read by the tabs' handlers."""
    runs: Path
    comp: dict[str, Any] = field(default_factory=dict)

    @property
    def web(self) -> Path:
        return self.runs / ".web"

    def area(self, name: str) -> Path:
        p = self.web / name
        p.mkdir(parents=True, exist_ok=True)
        return p


def inside(path: str | Path, root: Path) -> Path:
    """`path` resolved, refused unless it lies under `root` (writes only go under --runs)."""
    p = Path(path).resolve()
    r = Path(root).resolve()
    if p != r and r not in p.parents:
        raise UserError(f"{path}: outside {root}; the web app writes only under --runs")
    return p


def store_upload(ctx: Ctx, tmp_path: str) -> Path:
    """Copy an uploaded file into RUNS/.web/uploads (size-limited, name sanitised); returns its new path."""
    from .jobs import safe_name

    src = Path(tmp_path)
    if src.suffix.lower() not in DATA_SUFFIXES:
        raise UserError(f"{src.name}: upload a {', '.join(DATA_SUFFIXES)} file")
    size = src.stat().st_size
    if size > MAX_UPLOAD_MB * 2**20:
        raise UserError(f"{src.name}: {size / 2**20:.0f} MB is over the {MAX_UPLOAD_MB} MB upload limit")
    dst = ctx.area("uploads") / (safe_name(src.stem, "data") + src.suffix.lower())
    shutil.copyfile(src, dst)
    return dst


def find_runs(runs: Path) -> list[Path]:
    """Run dirs under --runs (tiaocan, LLaMA-Factory, HF): any folder with a trainer log or state, two levels deep."""
    out = []
    if not runs.is_dir():
        return out
    for p in sorted(runs.rglob("*")):
        if not p.is_dir() or ".web" in p.parts or p.name.startswith("checkpoint-"):
            continue
        if len(p.relative_to(runs).parts) > 3:
            continue
        if (p / "trainer_log.jsonl").is_file() or (p / "trainer_state.json").is_file():
            out.append(p)
    return out


def fmt(v: Any) -> str:
    if isinstance(v, float):
        if v and abs(v) < 1e-3:
            return f"{v:.1e}"
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    return str(v)


def parse_value(text: str) -> Any:
    """A table cell back to a value: YAML rules (numbers, true/false, [a, b])."""
    import yaml

    text = str(text).strip()
    try:
        return yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return text


def esc(s: Any) -> str:
    return html.escape(str(s))


def error_md(e: Exception) -> str:
    return f"<div class='tc-error'>⚠ {esc(e)}</div>"


# ------------------------------------------------------------------ charts (matplotlib, drawn on the server)

def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_figure(curves_list: list, band: tuple[float, float] | None = None, marks: list[int] | None = None):
    """Train (solid) and eval (dots) loss per run, the target loss band shaded, finding steps marked."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, c in enumerate(curves_list):
        col = colors[i % len(colors)]
        pts = [(s, v) for s, v in zip(c.steps, c.loss) if not math.isnan(v)]
        if pts:
            ax.plot(*zip(*pts), color=col, lw=1.4, label=f"{c.name} train")
        ev = [(s, v) for s, v in zip(c.eval_steps, c.eval_loss) if not math.isnan(v)]
        if ev:
            ax.plot(*zip(*ev), "o--", color=col, ms=4, lw=1, label=f"{c.name} eval")
    if band:
        ax.axhspan(band[0], band[1], color="#2a2", alpha=0.08, label=f"loss band {band[0]}–{band[1]}")
    for s in marks or []:
        ax.axvline(s, color="#c33", lw=0.8, ls=":")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    if curves_list:
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    plt.close(fig)
    return fig


def xy_figure(points: list[tuple[float, float]], xlabel: str, ylabel: str, step: bool = True):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
    if points:
        xs, ys = zip(*points)
        if step:
            ax.step(xs, ys, where="post", lw=1.6)
        else:
            ax.plot(xs, ys, "o-")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)
    return fig


def memory_bar(terms: dict[str, float], total: float, budget: float | None) -> str:
    """A stacked bar of the memory estimate (GiB) against the device budget, as HTML."""
    palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]
    scale = max(total, budget or 0) or 1
    segs, legend = [], []
    for i, (k, v) in enumerate((k, v) for k, v in terms.items() if v):
        c = palette[i % len(palette)]
        segs.append(f"<div title='{esc(k)} {v / 2**30:.2f} GiB' style='width:{100 * v / scale:.2f}%;background:{c}'></div>")
        legend.append(f"<span><i style='background:{c}'></i>{esc(k)} {v / 2**30:.2f}</span>")
    fits = budget is None or total <= budget
    cap = f" / {budget / 2**30:.0f} GiB" if budget else " GiB (no GPU budget known)"
    mark = (f"<div class='tc-budget' style='left:{100 * budget / scale:.2f}%'></div>" if budget else "")
    return (f"<div class='tc-mem'><div class='tc-bar'>{''.join(segs)}{mark}</div>"
            f"<div class='tc-legend'>{''.join(legend)}</div>"
            f"<b class='{'tc-ok' if fits else 'tc-bad'}'>{total / 2**30:.2f}{cap}</b></div>")
