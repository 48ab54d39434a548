"""tune_report.html: the trials' eval-loss curves (pruned vs completed), best-so-far vs compute, Optuna's parameter
importances, the gain over the plan and a table of every trial. One self-contained file (images inlined)."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from ..fonts import FONT_STACK
from .results import TuneResult

COLOURS = {"COMPLETE": "tab:green", "PRUNED": "tab:orange", "FAIL": "tab:red", "RUNNING": "tab:gray", "WAITING": "tab:gray"}


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _figures(r: TuneResult) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = []
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for t in r.trials:
        if not t.curve:
            continue
        xs, ys = zip(*t.curve)
        plan = t.role == "plan"
        ax.plot(xs, ys, "o-" if plan else ".-", color="black" if plan else COLOURS.get(t.state, "tab:gray"),
                lw=2.2 if plan else 1, alpha=1 if plan or t.number == r.best_trial else 0.6,
                label="plan (trial 0)" if plan else None)
    for state, colour in (("completed", "tab:green"), ("pruned", "tab:orange"), ("failed", "tab:red")):
        ax.plot([], [], color=colour, label=state)
    ax.set_xlabel("training examples seen")
    ax.set_ylabel("eval loss")
    # Under successive halving a pruned trial is a complete shorter run: one point, at its end.
    ax.set_title("trials' eval loss (pruned: shorter runs or stopped early)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    figs.append(("Trial curves", _png(fig)))

    done = [t for t in sorted(r.trials, key=lambda t: t.number) if t.tokens or t.value is not None]
    if done and r.full_run_tokens:
        xs, ys, best, spent = [], [], None, 0
        sign = 1 if r.direction == "minimize" else -1
        for t in done:
            spent += t.tokens
            if t.state == "COMPLETE" and t.value is not None and (best is None or sign * t.value < sign * best):
                best = t.value
            if best is not None:
                xs.append(spent / r.full_run_tokens)
                ys.append(best)
        if xs:
            fig, ax = plt.subplots(figsize=(8, 3.5))
            # markers too: with one completed trial a step line has nothing to draw
            ax.step(xs, ys, where="post", color="tab:blue", marker="o", ms=4, label=f"best completed {r.metric}")
            if len(xs) == 1:
                ax.set_xlim(0, max(xs[0] * 1.1, r.compute_full_runs or 1))
            if r.plan_value is not None:
                ax.axhline(r.plan_value, color="black", ls="--", lw=1, label="plan (full run)")
            ax.legend()
            ax.set_xlabel("compute spent (full-run equivalents)")
            ax.set_ylabel(f"best {r.metric}")
            ax.grid(alpha=0.3)
            fig.tight_layout()
            figs.append(("Best so far vs compute", _png(fig)))
    if r.importances:
        fig, ax = plt.subplots(figsize=(6, 0.5 + 0.4 * len(r.importances)))
        names = list(r.importances)[::-1]
        ax.barh(names, [r.importances[n] for n in names], color="tab:purple")
        ax.set_xlabel("importance (Optuna fANOVA)")
        fig.tight_layout()
        figs.append(("Parameter importances", _png(fig)))
    return figs


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def write_report(r: TuneResult, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    c = r.plan_compared_at
    gain = (f"{100 * r.gain_over_plan:+.2f} % (full runs)" if r.gain_over_plan is not None else
            f"{100 * c['gain']:+.2f} % at the rung where the plan stopped ({c['examples']} examples: trial "
            f"{c['trial']} {c['value']:.4g} vs the plan's trial {c['plan_trial']} {c['plan_value']:.4g})" if c else
            "not measured: the plan and the best were never run as long" if r.plan_value is None else "-")
    plan = _fmt(r.plan_value) if r.plan_value is not None else (r.plan_outcome or "not run")
    head = [("study", r.study_name), ("storage", r.storage), ("metric", f"{r.metric} ({r.direction})"),
            ("budget", f"{r.budget} — {r.budget_spent}"), ("compute spent", f"{r.compute_full_runs:.2f} full runs"),
            ("trials", f"{r.n_trials}: {r.n_complete} completed, {r.n_pruned} pruned, {r.n_failed} failed"),
            ("best", f"{_fmt(r.best_value)} (trial {r.best_trial})"), ("plan (trial 0)", plan),
            ("gain over plan", gain)]
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in head)
    names = sorted({k for t in r.trials for k in t.params})
    trial_rows = "".join(
        f"<tr class='{t.state.lower()}'><td>{t.number}{' (plan)' if t.role == 'plan' else ''}"
        f"{f' retry of {t.retry_of}' if t.retry_of is not None else ''}</td><td>{t.state}</td><td>{_fmt(t.value)}</td>"
        + "".join(f"<td>{_fmt(t.params.get(n, ''))}</td>" for n in names)
        + f"<td>{t.steps}</td><td>{t.examples}</td><td>{t.tokens:,}</td><td>{t.wall_s:.0f}</td>"
          f"<td>{html.escape(t.fail_reason or '')}</td></tr>"
        for t in r.trials)
    imgs = "".join(f"<h2>{html.escape(title)}</h2><img src='data:image/png;base64,{b64}'>" for title, b64 in _figures(r))
    best = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in r.best_params.items())
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in r.notes)
    p.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>tiaocan tune — {html.escape(r.study_name)}</title>
<style>body{{font-family:{FONT_STACK};max-width:1100px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}}tr.pruned{{color:#a60}}
tr.fail{{color:#b00}}tr.complete{{color:#060}}</style></head><body>
<h1>tiaocan tune — {html.escape(r.study_name)}</h1><table>{rows}</table>
<h2>Best parameters</h2><table>{best or '<tr><td>no completed trial</td></tr>'}</table>
{f'<ul>{notes}</ul>' if notes else ''}{imgs}
<h2>Trials</h2><table><tr><th>trial</th><th>state</th><th>{html.escape(r.metric)}</th>
{''.join(f'<th>{html.escape(n)}</th>' for n in names)}<th>steps</th><th>examples</th><th>tokens</th><th>s</th>
<th>fail reason</th></tr>{trial_rows}</table>
<p>Browse the study live: <code>optuna-dashboard {html.escape(r.storage)}</code></p></body></html>""", encoding="utf-8")
    return p
