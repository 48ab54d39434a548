"""Tab 4 — Runs: every run under --runs (tiaocan, LLaMA-Factory, HF), curves overlaid, findings, and the suggested
next config one click from a new run."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from .common import Ctx, error_md, esc, find_runs, loss_figure
from .text import L, tr
from .train_tab import findings_html


def run_choices(ctx: Ctx) -> list[tuple[str, str]]:
    return [(str(p.relative_to(ctx.runs)), str(p)) for p in find_runs(ctx.runs)]


def build(ctx: Ctx) -> None:
    c = ctx.comp
    with gr.Row(equal_height=True):
        pick = gr.CheckboxGroup(run_choices(ctx), label=L("runs"), elem_id="runs-pick", scale=5)
        refresh = gr.Button(L("refresh"), scale=1, elem_id="runs-refresh")
    plot = gr.Plot(label=L("curves"), elem_id="runs-plot")
    findings = gr.HTML(elem_id="runs-findings")
    with gr.Accordion(L("suggested"), open=True):
        suggested = gr.Code(language="yaml", interactive=False, elem_id="runs-suggested")
    c["new_run"] = gr.Button(L("new_run"), variant="primary", elem_id="runs-new")
    c["suggested_cfg"] = gr.State(None)
    refresh.click(lambda v: gr.update(choices=run_choices(ctx), value=[x for x in (v or []) if Path(x).exists()]),
                  pick, pick)
    c["runs_pick"] = pick
    c.setdefault("on_load", []).append((lambda: gr.update(choices=run_choices(ctx)), pick))

    def show(paths, lang):
        from ..diagnosis import diagnose_curves, read_run
        import yaml

        if not paths:
            return None, "", "", None
        curves, parts, last_cfg = [], [], None
        for p in paths:
            try:
                cv = read_run(p)
                d = diagnose_curves(cv, check_data=False)
            except Exception as e:  # noqa: BLE001
                parts.append(f"<h4>{esc(Path(p).name)}</h4>{error_md(e)}")
                continue
            curves.append(cv)
            head = (f"{esc(cv.name)} · {esc(cv.source)} · {tr(lang, 'last step', '最后一步')} {d.last_step}"
                    + (f" · {tr(lang, 'final loss', '最终损失')} {d.final_loss:.3f}" if d.final_loss is not None else "")
                    + (f" · {tr(lang, 'best eval', '最佳验证')} {d.best_eval_loss:.3f}" if d.best_eval_loss is not None else ""))
            parts.append(f"<h4>{head}</h4>{findings_html(d, lang)}")
            if d.suggested_config:
                last_cfg = dict(d.suggested_config)
        text = yaml.safe_dump(last_cfg, sort_keys=False, allow_unicode=True) if last_cfg else ""
        return loss_figure(curves), "".join(parts), text, last_cfg

    pick.change(show, [pick, c["lang"]], [plot, findings, suggested, c["suggested_cfg"]])
