"""Tab 5 — Tune: `tiaocan tune` from the current config within a budget, as a separate process; the trials read
live from its Optuna storage (rung, learning rate, batch, eval loss, state), best-so-far against compute, and the
best config one click from a training run."""
from __future__ import annotations

import json
import time
from pathlib import Path

import gradio as gr

from . import jobs
from .common import Ctx, error_md, esc, fmt, xy_figure
from .text import L, tr
from .train_tab import _latest, job_choices


def build(ctx: Ctx) -> None:
    c = ctx.comp
    with gr.Row():
        budget = gr.Textbox("3x", label=L("budget"), elem_id="tune-budget")
        max_trials = gr.Number(0, precision=0, minimum=0, label=L("max_trials"), elem_id="tune-max-trials")
        start = gr.Button(L("start"), variant="primary", elem_id="tune-start")
        stop = gr.Button(L("stop"), variant="stop")
    job = gr.Dropdown(job_choices(ctx, "tune"), label=L("job"), elem_id="tune-job")
    status = gr.HTML(elem_id="tune-status")
    trials = gr.Dataframe(label=L("trials"), interactive=False, elem_id="tune-trials", max_height=360)
    plot = gr.Plot(elem_id="tune-plot")
    c["best_cfg"] = gr.State(None)
    c.setdefault("on_load", []).append((lambda: _latest(ctx, "tune"), job))
    c["train_best"] = gr.Button(L("best_cfg"), variant="primary", elem_id="tune-best")

    def on_start(cfg, b, n, lang):
        from ..config import build_config, save_config

        if not cfg:
            raise gr.Error(tr(lang, "Make a plan first (tab 2).", "请先生成方案（第 2 页）。"))
        name = time.strftime("tune-%Y%m%d-%H%M%S")
        out = ctx.runs / name
        folder = jobs.new_folder(ctx.runs, name)
        try:
            tc = build_config({k: v for k, v in cfg.items() if k != "output_dir"})
        except Exception as e:  # noqa: BLE001
            raise gr.Error(str(e))
        yaml_path = save_config(tc, folder / "config.yaml", include_defaults=False)
        args = ["--config", str(yaml_path), "--budget", (b or "3x").strip(), "--output", str(out), "--quiet",
                "--json", str(folder / "result.json")]
        if n:
            args += ["--max-trials", str(int(n))]
        j = jobs.start(ctx.runs, "tune", args, output=str(out), name=name, folder=folder)
        return gr.update(choices=job_choices(ctx, "tune"), value=str(j.folder))

    start.click(on_start, [c["train_config"], budget, max_trials, c["lang"]], job)
    stop.click(lambda f: (jobs.stop(jobs.load(Path(f))) if f and jobs.load(Path(f)) else None), job, None)

    def tick(folder, lang):
        if not folder:
            return gr.update(), gr.update(), gr.update(), gr.update()
        j = jobs.load(Path(folder))
        if j is None:
            return error_md(f"{folder}: no job"), None, None, None
        return render_tune(j, lang)

    gr.Timer(3.0).tick(tick, [job, c["lang"]], [status, trials, plot, c["best_cfg"]], show_progress="hidden")
    job.change(tick, [job, c["lang"]], [status, trials, plot, c["best_cfg"]])


def _records(out: Path):
    """Trials straight from the study database (works while tune runs; the JSON only exists at the end)."""
    db = out / "tune.db"
    if not db.is_file():
        return []
    import optuna

    from ..tuning.results import trial_record

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{db.resolve()}"
    recs = []
    for s in optuna.get_all_study_summaries(url):
        study = optuna.load_study(study_name=s.study_name, storage=url)
        recs += [trial_record(t) for t in study.get_trials(deepcopy=False)]
    return recs


def render_tune(j: jobs.Job, lang: str):
    import pandas as pd

    out = Path(j.output)
    try:
        recs = _records(out)
    except Exception as e:  # noqa: BLE001 — a database mid-write: show the error, try again next tick
        return error_md(e), gr.update(), gr.update(), gr.update()
    rows, best, pts, spent = [], None, [], 0
    for r in sorted(recs, key=lambda r: r.number):
        p = r.params
        rows.append([r.number, r.role or "", "" if r.rung is None else r.rung, fmt(p.get("learning_rate", "")),
                     fmt(p.get("effective_batch", p.get("per_device_train_batch_size", ""))),
                     "" if r.value is None else f"{r.value:.4f}", r.state, r.tokens])
        spent += r.tokens
        if r.value is not None and r.state == "COMPLETE" and (best is None or r.value < best):
            best = r.value
        if best is not None:
            pts.append((spent, best))
    df = pd.DataFrame(rows, columns=["#", tr(lang, "role", "角色"), tr(lang, "rung", "档"), "learning_rate",
                                     tr(lang, "batch", "批量"), "eval_loss", tr(lang, "state", "状态"), "tokens"])
    result, best_cfg = out / "tune_result.json", None
    extra = ""
    if result.is_file():
        res = json.loads(result.read_text(encoding="utf-8"))
        best_cfg = res.get("best_config") or None
        if res.get("gain_over_plan") is not None:
            extra = f" · {tr(lang, 'gain over the plan', '相对方案提升')} {100 * res['gain_over_plan']:+.2f}%"
        if res.get("outputs", {}).get("report"):
            extra += f" · {tr(lang, 'report', '报告')}: {esc(res['outputs']['report'])}"
    state = j.state()
    status = (f"<div class='tc-summary'><b class='tc-state tc-{state}'>{state}</b> · {esc(out.name)} · "
              f"{len(recs)} {tr(lang, 'trials', '个试验')}"
              + (f" · {tr(lang, 'best', '最佳')} eval_loss <b>{best:.4f}</b>" if best is not None else "") + extra + "</div>")
    return status, df, xy_figure(pts, "tokens spent", "best eval_loss"), best_cfg
