"""Tab 1 — Data: pick or upload a file (or a dataset_info.json name), a model and a GPU → the inspect report."""
from __future__ import annotations

import hashlib
from pathlib import Path

import gradio as gr

from .common import BUNDLED, Ctx, error_md, esc, store_upload
from .text import L, tr

DEFAULT_MODEL = "smollm2-135m"
GPUS = ["", "24GB", "4090", "A100-40GB", "A100-80GB", "H100-80GB", "2x4090"]


def data_choices(ctx: Ctx) -> list[str]:
    found = [str(BUNDLED / "train.jsonl")]
    up = ctx.web / "uploads"
    edited = ctx.web / "data"
    for d in (up, edited):
        if d.is_dir():
            found += [str(p) for p in sorted(d.iterdir()) if p.is_file()]
    return found


def build(ctx: Ctx) -> None:
    c = ctx.comp
    with gr.Row():
        with gr.Column(scale=3):
            c["data"] = gr.Dropdown(data_choices(ctx), value=str(BUNDLED / "train.jsonl"), allow_custom_value=True,
                                    label=L("data_file"), elem_id="data-file")
            with gr.Row():
                c["model"] = gr.Textbox(DEFAULT_MODEL, label=L("model"), elem_id="model")
                c["gpu"] = gr.Dropdown(GPUS, value="", allow_custom_value=True, label=L("gpu"), elem_id="gpu")
                c["dataset_dir"] = gr.Textbox("data", label=L("dataset_dir"))
        with gr.Column(scale=2):
            upload = gr.File(label=L("upload"), file_types=[".json", ".jsonl", ".csv", ".parquet"], height=140)
    inspect_btn = gr.Button(L("inspect"), variant="primary", elem_id="inspect-btn")
    summary = gr.HTML(elem_id="inspect-summary")
    with gr.Row():
        hist = gr.Image(label=L("histogram"), type="filepath", elem_id="histogram", height=320, buttons=["download"])
        with gr.Column():
            cutoffs = gr.Dataframe(label=L("cutoffs"), interactive=False, elem_id="cutoffs")
            topics = gr.Dataframe(label=L("topics"), interactive=False)
    c["inspect_btn"] = inspect_btn
    c["report"] = gr.State(None)  # the DataReport as a dict: the plan is made from it, never re-derived here

    def on_upload(f):
        if not f:
            return gr.update()
        try:
            p = store_upload(ctx, f)
        except Exception as e:  # noqa: BLE001 — shown to the user
            raise gr.Error(str(e))
        return gr.update(choices=data_choices(ctx), value=str(p))

    upload.upload(on_upload, upload, c["data"])

    def run_inspect(data, model, dataset_dir, lang):
        from ..data.inspect import inspect_data

        if not data:
            raise gr.Error(tr(lang, "Choose a data file first.", "请先选择数据文件。"))
        key = hashlib.sha1(f"{data}|{model}".encode()).hexdigest()[:12]
        plot = ctx.area("inspect") / f"lengths-{key}.png"
        try:
            rep = inspect_data(data, model=model or DEFAULT_MODEL, dataset_dir=dataset_dir or "data", plot=plot)
        except Exception as e:  # noqa: BLE001
            return error_md(e), None, None, None, None
        return (_summary(rep, lang), rep.plot, _cutoff_rows(rep, lang), _topic_rows(rep, lang),
                rep.model_dump(mode="json"))

    c["inspect_event"] = inspect_btn.click(run_inspect, [c["data"], c["model"], c["dataset_dir"], c["lang"]],
                                           [summary, hist, cutoffs, topics, c["report"]])


def _summary(rep, lang: str) -> str:
    c = rep.at_cutoff
    p = rep.problems
    probs = []
    if p.empty_responses:
        probs.append(tr(lang, f"{p.empty_responses} empty answers", f"{p.empty_responses} 条空回答"))
    if p.duplicates:
        probs.append(tr(lang, f"{p.duplicates} exact duplicates", f"{p.duplicates} 条完全重复"))
    if p.mixed_languages:
        probs.append(tr(lang, "mixed languages: ", "语言混杂：") + ", ".join(f"{k} {v:.0%}" for k, v in p.languages.items()))
    if c.no_trainable_tokens:
        probs.append(tr(lang, f"{c.no_trainable_tokens} examples with nothing to learn at this cutoff",
                        f"{c.no_trainable_tokens} 条样例在此截断下没有可学习的 token"))
    none = tr(lang, "none found", "未发现")
    return (
        f"<div class='tc-summary'><b>{esc(Path(rep.data).name)}</b> · {rep.num_examples} "
        f"{tr(lang, 'examples', '条样例')} · {tr(lang, 'tokenizer of', '分词器')} {esc(rep.model)}<br>"
        f"{tr(lang, 'Recommended', '推荐')} <b class='tc-ok'>cutoff_len = {rep.recommended_cutoff_len}</b> — "
        f"{tr(lang, 'keeps', '保留')} {rep.recommended_coverage_pct}% {tr(lang, 'of examples whole', '的样例完整')} "
        f"({tr(lang, 'model context', '模型上下文')} {rep.model_context}). "
        f"{tr(lang, 'At this cutoff', '此截断下')}: {c.examples_cut} {tr(lang, 'cut', '条被截断')}, "
        f"{c.response_tokens_lost_pct}% {tr(lang, 'answer tokens lost', '回答 token 丢失')}.<br>"
        f"{tr(lang, 'Lengths (full, tokens)', '长度（完整，token）')}: p50 {rep.full.p50:.0f} · p95 {rep.full.p95:.0f} · "
        f"max {rep.full.max}<br>"
        f"{tr(lang, 'Data problems', '数据问题')}: {esc('; '.join(probs) if probs else none)}</div>")


def _cutoff_rows(rep, lang: str):
    import pandas as pd

    cols = ["cutoff_len", tr(lang, "examples whole", "完整样例"), tr(lang, "answer tokens lost", "回答 token 丢失"),
            tr(lang, "tokens / epoch", "每轮 token"), tr(lang, "memory vs recommended", "显存（相对推荐）")]
    return pd.DataFrame([[o.cutoff_len, f"{o.examples_whole_pct}%", f"{o.response_tokens_lost_pct}%",
                          f"{o.tokens_trained:,}", f"{o.relative_memory}x"] for o in rep.alternatives], columns=cols)


def _topic_rows(rep, lang: str):
    import pandas as pd

    cat = rep.categories or {}
    low = tr(lang, "under-represented", "样例偏少")
    rows = [[t["category"], t["train"], f"{t['share']:.0%}", low if t.get("under_represented") else ""]
            for t in cat.get("topics") or []]
    return pd.DataFrame(rows, columns=[tr(lang, "topic", "主题"), tr(lang, "examples", "样例数"),
                                       tr(lang, "share", "占比"), ""])
