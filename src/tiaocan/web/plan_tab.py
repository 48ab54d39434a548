"""Tab 2 — Plan: `make_plan` as an editable table with a reason per value; an edit becomes an override and the plan
is made again (exactly `plan --set`: micro batch → accumulation, effective batch → learning rate, memory re-checked)."""
from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from .common import Ctx, error_md, esc, fmt, memory_bar, parse_value
from .text import L, tr

COLS = ("parameter", "value", "reason", "source")


def build(ctx: Ctx) -> None:
    c = ctx.comp
    c["overrides"] = gr.State({})
    c["plan"] = gr.State(None)  # Plan.model_dump(): the table, export and train read it
    with gr.Row():
        method = gr.Radio(["lora", "qlora", "full"], value="lora", label=L("method"), elem_id="method")
        plan_btn = gr.Button(L("make_plan"), variant="primary", elem_id="plan-btn")
    head = gr.HTML(elem_id="plan-head")
    table = gr.Dataframe(headers=list(COLS), label=L("plan_table"), interactive=True, static_columns=[0, 2, 3],
                         wrap=True, column_widths=["18%", "12%", "50%", "20%"], elem_id="plan-table", max_height=1000)
    with gr.Row(equal_height=True):
        key = gr.Dropdown([], label=L("param"), elem_id="set-key", scale=2, allow_custom_value=True)
        val = gr.Textbox(label=L("value"), elem_id="set-value", scale=2)
        set_btn = gr.Button(L("set"), elem_id="set-btn", scale=1)
        reset_btn = gr.Button(L("reset"), scale=1)
    gr.Markdown("#### ", elem_classes="tc-gap")
    mem = gr.HTML(label=L("memory"), elem_id="memory")
    with gr.Row(equal_height=True):
        fmt_pick = gr.Radio(["llamafactory", "axolotl", "hf"], value="llamafactory", label=L("export_fmt"))
        export_btn = gr.Button(L("export"), elem_id="export-btn")
        files = gr.File(label=L("exported"), file_count="multiple", interactive=False, elem_id="exported", height=90)
    c["to_train"] = gr.Button(L("to_train"), variant="primary", elem_id="to-train")
    c["method"] = method

    inputs = [c["report"], c["data"], c["dataset_dir"], c["model"], c["gpu"], method, c["overrides"], c["lang"]]
    outputs = [head, table, mem, key, c["plan"], c["train_config"]]

    def make(report, data, dataset_dir, model, gpu, method, overrides, lang):
        from ..data.inspect import DataReport
        from ..planning import make_plan

        if not report:
            return (error_md(tr(lang, "Inspect the data first (tab 1).", "请先分析数据（第 1 页）。")),
                    None, "", gr.update(), None, None)
        try:
            p = make_plan(model, DataReport.model_validate(report), gpu=gpu or None, method=method,
                          overrides=dict(overrides or {}), lang=lang)
        except Exception as e:  # noqa: BLE001 — a bad value is the user's to fix: show it, keep the page
            return error_md(e), gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
        import pandas as pd

        rows = [[r.key, fmt(r.value) + (" *" if r.overridden else ""), r.reason, r.source] for r in p.recommendations]
        df = pd.DataFrame(rows, columns=[tr(lang, *x) for x in (("parameter", "参数"), ("value", "值"),
                                                                   ("reason", "理由"), ("source", "依据"))])
        cfg = dict(p.config)
        cfg["dataset"] = data
        if not Path(data).exists():
            cfg["dataset_dir"] = dataset_dir
        return (_head(p, lang), df, _memory(p, lang), gr.update(choices=[r.key for r in p.recommendations]),
                p.model_dump(mode="json"), cfg)

    c["plan_event"] = plan_btn.click(make, inputs, outputs)
    c["make_plan"] = (make, inputs, outputs)

    def edited(df, plan, overrides):
        """A changed value cell → an override of that key (others keep theirs)."""
        if plan is None or df is None:
            return overrides
        overrides = dict(overrides or {})
        shown = {r["key"]: fmt(r["value"]) for r in plan["recommendations"]}
        for row in df.values.tolist():
            k, v = row[0], str(row[1]).rstrip(" *").strip()
            if k in shown and v != shown[k]:
                overrides[k] = parse_value(v)
        return overrides

    table.input(edited, [table, c["plan"], c["overrides"]], c["overrides"]).then(*c["make_plan"])

    def set_one(k, v, overrides):
        if not k:
            return overrides
        return {**(overrides or {}), k: parse_value(v)}

    set_btn.click(set_one, [key, val, c["overrides"]], c["overrides"]).then(*c["make_plan"])
    reset_btn.click(lambda: {}, None, c["overrides"]).then(*c["make_plan"])
    method.change(lambda: {}, None, c["overrides"]).then(*c["make_plan"])

    def export(cfg, to):
        from ..config import build_config
        from ..exporting import export_config

        if not cfg:
            raise gr.Error("make a plan first")
        out = ctx.area("exports") / f"{to}-{time.strftime('%Y%m%d-%H%M%S')}"
        res = export_config(build_config(dict(cfg)), to, out)
        return res.files

    export_btn.click(export, [c["train_config"], fmt_pick], files)


def _head(p, lang: str) -> str:
    s = p.steps
    gpu = f"{p.gpu.count} × {p.gpu.name}" if p.gpu else tr(lang, "GPU unknown", "GPU 未知")
    line = (f"<b>{esc(p.model)}</b> ({p.memory.total_params / 1e9:.2f}B) · {esc(p.method)} · {esc(gpu)} · "
            f"{p.data.num_examples} {tr(lang, 'examples', '条样例')}<br>"
            f"<span id='plan-steps'>{tr(lang, 'effective batch', '有效批量')} <b>{s.effective_batch}</b> · "
            f"{s.steps_per_epoch} {tr(lang, 'steps/epoch', '步/轮')} · {s.total_steps} {tr(lang, 'steps', '步')} · "
            f"{s.total_tokens:,} tokens</span>")
    if s.est_seconds is not None:
        line += f" · ~{s.est_seconds / 60:.0f} min ({esc(s.est_basis)})"
    notes = "".join(f"<li>{esc(n)}</li>" for n in p.notes)
    return f"<div class='tc-summary'>{line}{f'<ul>{notes}</ul>' if notes else ''}</div>"


def _memory(p, lang: str) -> str:
    title = tr(lang, "Memory per device", "每卡显存") + f" (GiB, {tr(lang, 'peak in', '峰值于')} {esc(p.memory.peak_phase)})"
    return f"<h4>{title}</h4>" + memory_bar(p.memory.terms, p.memory.total, p.memory_budget_bytes)
