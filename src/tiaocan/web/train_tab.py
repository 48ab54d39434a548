"""Tab 3 — Train: the plan (or a suggested / tuned config) run as a separate `tiaocan train` process; live curves,
progress, findings as `diagnose` finds them; Stop (SIGINT: ends 'interrupted', resumable) and Resume."""
from __future__ import annotations

import json
import time
from pathlib import Path

import gradio as gr

from . import jobs
from .common import Ctx, error_md, esc, loss_figure
from .text import L, tr


def job_choices(ctx: Ctx, kind: str) -> list[tuple[str, str]]:
    return [(f"{j.name} · {j.state()}", j.extra["folder"]) for j in jobs.list_jobs(ctx.runs, kind)]


def build(ctx: Ctx) -> None:
    c = ctx.comp
    with gr.Row():
        name = gr.Textbox(label=L("run_name"), placeholder="run-YYYYMMDD-HHMMSS", elem_id="run-name")
        max_steps = gr.Number(0, precision=0, minimum=0, label=L("max_steps"), elem_id="max-steps")
    with gr.Accordion(L("config"), open=False):
        cfg_view = gr.Code(language="yaml", interactive=False, elem_id="train-config")
    with gr.Row():
        start = gr.Button(L("start"), variant="primary", elem_id="train-start")
        stop = gr.Button(L("stop"), variant="stop", elem_id="train-stop")
        resume = gr.Button(L("resume"), elem_id="train-resume")
    with gr.Row(equal_height=True):
        job = gr.Dropdown(job_choices(ctx, "train"), label=L("job"), elem_id="train-job", scale=4)
        refresh = gr.Button(L("refresh"), scale=1)
    status = gr.HTML(elem_id="train-status")
    plot = gr.Plot(label=L("curves"), elem_id="train-plot")
    findings = gr.HTML(elem_id="train-findings")
    with gr.Accordion(L("log"), open=False):
        log = gr.Textbox(lines=12, max_lines=12, show_label=False, elem_id="train-log", autoscroll=True)
    seen = gr.State("")
    c["train_job"] = job
    # a new page (refresh, second tab) lists the jobs as they are now and shows the newest one
    c.setdefault("on_load", []).append((lambda: _latest(ctx, "train"), job))

    c["train_config"].change(lambda cfg: _yaml(cfg), c["train_config"], cfg_view)

    def on_start(cfg, run_name, steps, lang):
        from ..config import build_config, save_config

        if not cfg:
            raise gr.Error(tr(lang, "Make a plan first (tab 2).", "请先生成方案（第 2 页）。"))
        run_name = jobs.safe_name(run_name or time.strftime("run-%Y%m%d-%H%M%S"))
        out = ctx.runs / run_name
        if out.exists() and any(out.iterdir()):
            raise gr.Error(tr(lang, f"{out} already holds a run: choose another name, or Resume it.",
                              f"{out} 已有运行：换个名称，或点“继续”。"))
        cfg = {**cfg, "output_dir": str(out)}
        if steps:
            cfg["max_steps"] = int(steps)
        try:
            tc = build_config(cfg)
        except Exception as e:  # noqa: BLE001
            raise gr.Error(str(e))
        folder = jobs.new_folder(ctx.runs, run_name)
        yaml_path = save_config(tc, folder / "config.yaml", include_defaults=False)
        j = jobs.start(ctx.runs, "train", [str(yaml_path)], output=str(out), name=run_name, folder=folder,
                       extra={"config": str(yaml_path)})
        return gr.update(choices=job_choices(ctx, "train"), value=str(j.folder))

    start.click(on_start, [c["train_config"], name, max_steps, c["lang"]], job)

    def on_stop(folder):
        j = jobs.load(Path(folder)) if folder else None
        if j:
            jobs.stop(j)
        return gr.update(choices=job_choices(ctx, "train"), value=folder)

    stop.click(on_stop, job, job)

    def on_resume(folder, lang):
        j = jobs.load(Path(folder)) if folder else None
        if j is None or j.running():
            raise gr.Error(tr(lang, "Pick a stopped run to resume.", "请选择一个已停止的运行。"))
        cfg = j.extra.get("config")
        folder2 = jobs.new_folder(ctx.runs, f"{Path(j.output).name}-resume")
        j2 = jobs.start(ctx.runs, "train", [cfg, "--resume"], output=j.output, name=folder2.name, folder=folder2,
                        extra={"config": cfg})
        return gr.update(choices=job_choices(ctx, "train"), value=str(j2.folder))

    resume.click(on_resume, [job, c["lang"]], job)
    refresh.click(lambda v: gr.update(choices=job_choices(ctx, "train"), value=v), job, job)

    def tick(folder, seen_key, lang):
        if not folder:
            return gr.update(), gr.update(), gr.update(), gr.update(), seen_key
        j = jobs.load(Path(folder))
        if j is None:
            return error_md(f"{folder}: no job"), None, "", "", ""
        logf = Path(j.output) / "trainer_log.jsonl"
        key = f"{folder}|{j.state()}|{logf.stat().st_mtime if logf.is_file() else 0}|{lang}"
        if key == seen_key:
            return gr.update(), gr.update(), gr.update(), j.log_tail(), seen_key
        return (*render_run(j, lang), j.log_tail(), key)

    outs = [status, plot, findings, log, seen]
    gr.Timer(2.0).tick(tick, [job, seen, c["lang"]], outs, show_progress="hidden")
    job.change(tick, [job, gr.State(""), c["lang"]], outs)


def _latest(ctx: Ctx, kind: str):
    ch = job_choices(ctx, kind)
    return gr.update(choices=ch, value=ch[0][1] if ch else None)


def _yaml(cfg) -> str:
    import yaml

    return yaml.safe_dump(cfg or {}, sort_keys=False, allow_unicode=True)


def _progress(run: Path) -> dict:
    p = run / "trainer_log.jsonl"
    if not p.is_file():
        return {}
    last = {}
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if "current_steps" in rec:
            last = rec
    return last


def render_run(j: jobs.Job, lang: str):
    """Status line, curve figure and findings for one train job (all read from its run dir)."""
    from ..diagnosis import diagnose_curves, read_run

    run = Path(j.output)
    state = j.state()
    pr = _progress(run)
    summary = {}
    if (run / "run_summary.json").is_file():
        summary = json.loads((run / "run_summary.json").read_text(encoding="utf-8"))
    bits = [f"<b class='tc-state tc-{state}' id='train-state'>{state}</b>", esc(run.name)]
    if pr:
        bits.append(f"{tr(lang, 'step', '步')} <b id='train-step'>{pr.get('current_steps')}</b> / {pr.get('total_steps')}"
                    f" ({pr.get('percentage', 0):.0f}%)")
        bits.append(f"{tr(lang, 'elapsed', '已用')} {pr.get('elapsed_time')} · {tr(lang, 'left', '剩余')} "
                    f"{pr.get('remaining_time') if state == 'running' else '0:00:00'}")
    if summary.get("stop_reason"):
        bits.append(f"{tr(lang, 'stopped', '结束原因')}: <b>{esc(summary['stop_reason'])}</b>")
    status = "<div class='tc-summary'>" + " · ".join(bits) + "</div>"
    try:
        curves = read_run(run)
    except Exception:  # noqa: BLE001 — no log yet (model loading)
        return status, None, f"<i>{tr(lang, 'waiting for the first log line…', '等待第一条日志…')}</i>"
    band = tuple(curves.config.get("stop_loss_band") or ()) or None
    try:
        d = diagnose_curves(curves, check_data=False)
    except Exception as e:  # noqa: BLE001
        return status, loss_figure([curves], band), error_md(e)
    marks = sorted({s for f in d.findings for s in f.steps})
    return status, loss_figure([curves], band, marks), findings_html(d, lang)


def findings_html(d, lang: str) -> str:
    if not d.findings:
        return f"<div class='tc-ok'>{tr(lang, 'No findings so far.', '暂无诊断问题。')}</div>"
    items = []
    for f in d.findings:
        title = f.title_zh if lang == "zh" and f.title_zh else f.title
        expl = f.explanation_zh if lang == "zh" and f.explanation_zh else f.explanation
        ev = "".join(f"<li>{esc(e)}</li>" for e in f.evidence)
        ch = "".join(f"<li><code>{esc(x.key)}: {esc(x.old)} → {esc(x.new)}</code> {esc(x.why)}</li>" for x in f.changes)
        items.append(f"<details class='tc-finding tc-{f.severity}'><summary><b>{esc(f.severity)}</b> {esc(title)}</summary>"
                     f"<p>{esc(expl)}</p><ul>{ev}{ch}</ul></details>")
    return "<div class='tc-findings'>" + "".join(items) + "</div>"
