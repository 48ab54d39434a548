"""`tiaocan report`: one self-contained HTML page (PNGs embedded as base64, also written beside it).

No analysis happens here: it draws the Curves and pins the findings that `diagnose` produced.
Figures: train loss (raw, faint + smoothed) and eval loss for every run overlaid, the loss band shaded,
findings marked at their steps; the learning-rate schedule; the gradient norm when logged.
"""
from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..fonts import FONT_STACK
from .core import diagnose_curves
from .readers import read_some
from .signals import ema, smoothing_weight
from .suggest import change_line, compact, to_yaml
from .types import Curves, RunDiagnosis

SEV_COLOR = {"critical": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}
MARK = {"critical": "X", "warning": "^", "info": "o"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # headless: servers and CI have no display
    import matplotlib.pyplot as plt

    return plt


def _loss_figure(runs: list[tuple[Curves, RunDiagnosis]], path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 5.2), dpi=110)
    band = runs[0][1].band
    ax.axhspan(band[0], band[1], color="#2e7d32", alpha=0.08, label=f"target band {band[0]}–{band[1]}")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    top = 0.0
    for i, (c, d) in enumerate(runs):
        col = colors[i % len(colors)]
        s, y = np.asarray(c.steps), c.arr("loss")
        ok = np.isfinite(y)
        if ok.any():
            ax.plot(s[ok], y[ok], color=col, alpha=0.25, lw=0.8)
            sm = ema(y[ok], smoothing_weight(int(ok.sum())))
            ax.plot(s[ok], sm, color=col, lw=2, label=f"{c.name} train (smoothed)")
            top = max(top, float(np.percentile(y[ok], 99)))
        if c.has_eval:
            es, ev = np.asarray(c.eval_steps), c.arr("eval_loss")
            ax.plot(es, ev, color=col, ls="--", marker="s", ms=4, lw=1.5, label=f"{c.name} eval")
            top = max(top, float(np.nanmax(ev)))
        bad = s[~ok]
        if len(bad):
            ax.scatter(bad, np.full(len(bad), top or 1.0), color="black", marker="|", s=80, label=f"{c.name} NaN/inf")
        evs, evl = np.asarray(c.eval_steps), c.arr("eval_loss")
        eok = np.isfinite(evl)
        for j, f in enumerate(d.findings):
            # pin on the curve the finding is about: eval findings on the eval line, the rest on the train line
            xs, ys, m = (evs, evl, eok) if f.id == "overfitting" and eok.any() else (s, y, ok)
            at = (lambda st: float(np.interp(st, xs[m], ys[m])) if m.any() else 0.0)  # noqa: E731
            for st in f.steps[:6]:
                ax.scatter([st], [at(st)], color=SEV_COLOR[f.severity], marker=MARK[f.severity], s=70, zorder=5,
                           edgecolor="white")
            if f.steps:
                st = f.steps[0]
                yv = at(st)
                ax.annotate(f.id, (st, yv), textcoords="offset points", xytext=(4, 8 + 10 * (j % 3)), fontsize=8,
                            color=SEV_COLOR[f.severity])
    ax.set_ylim(0, max(top * 1.1, band[1] * 1.3, 0.1))
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("Loss (raw faint, smoothed bold; markers = findings)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _series_figure(runs: list[Curves], field: str, title: str, path: Path, log: bool = False) -> Path | None:
    if not any(np.isfinite(c.arr(field)).any() for c in runs if len(getattr(c, field))):
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 3.2), dpi=110)
    for c in runs:
        y = c.arr(field)
        ok = np.isfinite(y) & ((y > 0) if log else True)
        if len(y) and ok.any():
            ax.plot(np.asarray(c.steps)[ok], y[ok], lw=1.5, label=c.name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(path.name)}</figcaption></figure>'


def _zh_lines(lines: list[str]) -> str:
    return '<br><span lang="zh">' + "<br>".join(html.escape(x) for x in lines) + "</span>" if lines else ""


def _run_section(c: Curves, d: RunDiagnosis) -> str:
    e = html.escape
    status = "healthy" if d.healthy else "needs changes"
    fl = f"{d.final_loss:.4f}" if d.final_loss is not None and math.isfinite(d.final_loss) else "–"
    be = f"{d.best_eval_loss:.3g}" if d.best_eval_loss is not None else "–"
    rows = "".join(
        f'<tr class="{f.severity}"><td>{e(f.severity)}</td><td><b>{e(f.title)}</b><br><span lang="zh">{e(f.title_zh)}</span></td>'
        f"<td>{e(', '.join(map(str, f.steps[:8])))}</td><td>{'<br>'.join(e(x) for x in f.evidence)}"
        f"{_zh_lines(f.evidence_zh)}</td>"
        f"<td>{'<br>'.join(e(change_line(ch)) for ch in f.changes) or '–'}</td>"
        f"<td>{e(f.explanation)}<br><span lang=\"zh\">{e(f.explanation_zh)}</span></td></tr>"
        for f in d.findings)
    table = (f'<table class="findings"><tr><th>severity</th><th>finding</th><th>steps</th><th>evidence</th><th>change</th>'
             f"<th>why</th></tr>{rows}</table>") if d.findings else '<p class="ok">No problems found: the curves look healthy. 未发现问题。</p>'
    notes = "".join(f"<li>{e(n)}</li>" for n in d.notes)
    cfg = to_yaml(compact(d.suggested_config, d.changes, d.source), d.changes) if d.changes else ""
    return (f'<section class="run" id="run-{e(c.name)}"><h2>{e(c.name)} <small>({e(c.source)}, {status})</small></h2>'
            f"<p>path: <code>{e(c.path)}</code> · last step {d.last_step} · finished: {d.finished} · "
            f"final train loss {fl} · best eval loss {be}</p>{table}"
            + (f"<h3>Suggested next config</h3><pre class=\"yaml\">{e(cfg)}</pre>" if cfg else "")
            + (f"<details><summary>notes</summary><ul>{notes}</ul></details>" if notes else "") + "</section>")


CSS = """body{font-family:""" + FONT_STACK + """;margin:2em;max-width:1200px}
img{max-width:100%}table{border-collapse:collapse;width:100%;font-size:.9em}td,th{border:1px solid #ddd;padding:.4em;vertical-align:top}
tr.critical td:first-child{color:#c62828;font-weight:bold}tr.warning td:first-child{color:#ef6c00;font-weight:bold}
tr.info td:first-child{color:#1565c0}pre.yaml{background:#f6f8fa;padding:1em;overflow:auto}.ok{color:#2e7d32;font-weight:bold}
span[lang=zh]{color:#555}figure{margin:1em 0}"""


def write_report(runs: list[str | Path], out: str | Path = "report.html", band: tuple[float, float] | None = None,
                 check_data: bool = False, skipped: list[str] | None = None) -> Path:
    """Read and diagnose each run, then write `out` (HTML) and its PNGs into `<out stem>_files/`.

    A run that cannot be read is left out (its reason appended to `skipped` and shown on the page)."""
    if not runs:
        raise UserError("give at least one run directory or log file")
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"-o {out}: the report is an HTML file; give a name ending in .html")
    curves, left_out = read_some(list(runs))
    if skipped is not None:
        skipped.extend(left_out)
    diags = [diagnose_curves(c, band, check_data) for c in curves]
    img_dir = out.parent / f"{out.stem}_files"
    img_dir.mkdir(parents=True, exist_ok=True)
    pngs = [_loss_figure(list(zip(curves, diags)), img_dir / "loss.png"),
            _series_figure(curves, "lr", "Learning rate schedule", img_dir / "lr.png"),
            _series_figure(curves, "grad_norm", "Gradient norm (log scale)", img_dir / "grad_norm.png", log=True)]
    figs = "".join(_img(p, p.stem) for p in pngs if p is not None)
    title = "tiaocan report — " + ", ".join(c.name for c in curves)
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p>Runs: {len(curves)} · healthy: {sum(d.healthy for d in diags)} · "
            f"band {diags[0].band[0]}–{diags[0].band[1]} (practitioner target for the train loss)</p>"
            + "".join(f"<p><b>left out</b>: {html.escape(s)}</p>" for s in left_out)
            + f'<div class="figures">{figs}</div>' + "".join(_run_section(c, d) for c, d in zip(curves, diags))
            + f"<footer><small>diagnosis JSON: <code>tiaocan diagnose {' '.join(html.escape(str(r)) for r in runs)} "
              f"--json out.json</code></small></footer></body></html>")
    out.write_text(page, encoding="utf-8")
    return out


__all__ = ["write_report"]
