"""Tab 6 — Eval: `tiaocan eval` on a run as a separate process; base vs tuned, failures by topic with prompt /
expected / got, the data advice; then open the training data at a topic, add examples, retrain."""
from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from . import jobs
from .common import BUNDLED, Ctx, error_md, esc
from .runs_tab import run_choices
from .text import L, tr
from .train_tab import _latest, job_choices


def build(ctx: Ctx) -> None:
    c = ctx.comp
    with gr.Row():
        # custom values allowed so that a run name typed + Enter is taken (gradio 6.31 drops a typed value in a
        # dropdown without them); on_start resolves what was typed to a listed run, or says which runs there are
        run = gr.Dropdown(run_choices(ctx), label=L("eval_run"), elem_id="eval-run", allow_custom_value=True)
        test = gr.Dropdown([str(BUNDLED / "test.jsonl")], value=str(BUNDLED / "test.jsonl"), allow_custom_value=True,
                           label=L("test_file"), elem_id="eval-test")
    with gr.Row():
        base = gr.Checkbox(False, label=L("with_base"))
        max_samples = gr.Number(0, precision=0, minimum=0, label=L("max_samples"), elem_id="eval-max-samples")
        start = gr.Button(L("start"), variant="primary", elem_id="eval-start")
    job = gr.Dropdown(job_choices(ctx, "eval"), label=L("job"), elem_id="eval-job")
    status = gr.HTML(elem_id="eval-status")
    failures = gr.Dataframe(label=L("failures"), interactive=False, wrap=True, elem_id="eval-failures", max_height=420,
                            column_widths=["9%", "4%", "21%", "24%", "24%", "18%"])
    advice = gr.HTML(elem_id="eval-advice")
    gr.Markdown("---")
    with gr.Row():
        topic = gr.Dropdown([], label=L("topic"), allow_custom_value=True, elem_id="eval-topic")
    rows = gr.Dataframe(label=L("train_rows"), interactive=False, wrap=True, max_height=300, elem_id="eval-train-rows")
    with gr.Row():
        q = gr.Textbox(label=L("add_user"), lines=2)
        a = gr.Textbox(label=L("add_assistant"), lines=2)
    with gr.Row():
        add = gr.Button(L("add"))
        c["retrain"] = gr.Button(L("retrain"), variant="primary", elem_id="eval-retrain")
    added = gr.HTML()
    c["eval_run"] = run
    c.setdefault("on_load", []).append((lambda: _latest(ctx, "eval"), job))
    c["on_load"].append((lambda: gr.update(choices=run_choices(ctx)), run))
    # runs appear while the page is open: list them again whenever the tab is opened (not on focus: a choices
    # update while the user types into the box races with the typing)
    c.setdefault("on_select", {})["eval"] = (lambda: gr.update(choices=run_choices(ctx)), run)

    def on_start(picked, test_file, with_base, n, lang):
        run_dir = resolve_run(ctx, picked, lang)
        folder = jobs.new_folder(ctx.runs, f"eval-{Path(run_dir).name}")
        out = folder / "eval.json"
        args = [eval_target(Path(run_dir)), "--test", test_file, "--json", str(out), "--html", str(folder / "eval.html")]
        if with_base:
            args.append("--base")
        if n:
            args += ["--max-samples", str(int(n))]
        j = jobs.start(ctx.runs, "eval", args, output=str(out), name=folder.name, folder=folder)
        return gr.update(choices=job_choices(ctx, "eval"), value=str(j.folder))

    start.click(on_start, [run, test, base, max_samples, c["lang"]], job)

    seen = gr.State("")

    def tick(folder, seen_key, lang):
        """Redraw only when the job's state or its result changed (the topic picked by the user stays)."""
        if not folder:
            return gr.update(), gr.update(), gr.update(), gr.update(), seen_key
        j = jobs.load(Path(folder))
        if j is None:
            return error_md(f"{folder}: no job"), None, "", gr.update(), ""
        out = Path(j.output)
        key = f"{folder}|{j.state()}|{out.stat().st_mtime if out.is_file() else 0}|{lang}"
        if key == seen_key:
            return gr.update(), gr.update(), gr.update(), gr.update(), seen_key
        return (*render_eval(j, lang), key)

    outs = [status, failures, advice, topic, seen]
    gr.Timer(3.0).tick(tick, [job, seen, c["lang"]], outs, show_progress="hidden")
    job.change(tick, [job, gr.State(""), c["lang"]], outs)

    topic.change(lambda t, d: _topic_rows(d, t), [topic, c["data"]], rows)

    def on_add(data, t, qq, aa, lang):
        if not (qq or "").strip() or not (aa or "").strip():
            raise gr.Error(tr(lang, "Write a question and an answer.", "请填写问题和回答。"))
        dst = _working_copy(ctx, data)
        row = {"messages": [{"role": "user", "content": qq.strip()}, {"role": "assistant", "content": aa.strip()}]}
        if t:
            row["category"] = t
        with open(dst, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        n = sum(1 for _ in open(dst, encoding="utf-8"))
        from .data_tab import data_choices

        return (gr.update(choices=data_choices(ctx), value=str(dst)), "", "",
                f"<div class='tc-ok'>{tr(lang, 'added to', '已添加到')} {esc(dst)} ({n} {tr(lang, 'rows', '行')})</div>")

    add.click(on_add, [c["data"], topic, q, a, c["lang"]], [c["data"], q, a, added]).then(
        lambda t, d: _topic_rows(d, t), [topic, c["data"]], rows)


def resolve_run(ctx: Ctx, picked: str | None, lang: str) -> Path:
    """The run the eval box names: an option picked (its path) or a listed run's name (typed + Enter). Only runs
    under --runs are evaluated, as before custom values were allowed; anything else is the user's to fix: the error
    names what was typed and the runs there are."""
    picked = (picked or "").strip()
    if not picked:
        raise gr.Error(tr(lang, "Pick a run to evaluate.", "请选择要评测的运行。"))
    runs = {name: Path(path) for name, path in run_choices(ctx)}
    if picked in runs:
        return runs[picked]
    if picked in map(str, runs.values()):
        return Path(picked)
    listed = ", ".join(sorted(runs)[:10]) or tr(lang, "none yet", "暂无")
    raise gr.Error(tr(lang, f"No run named '{picked}' under {ctx.runs}. Runs there: {listed}.",
                      f"{ctx.runs} 下没有名为“{picked}”的运行。已有的运行：{listed}。"))


def eval_target(run: Path) -> str:
    """A run stopped before its end has no adapter at the top: evaluate its newest checkpoint instead."""
    if (run / "adapter_config.json").is_file() or (run / "config.json").is_file():
        return str(run)
    ckpts = sorted(run.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]) if p.name.split("-")[-1].isdigit() else -1)
    ckpts = [p for p in ckpts if (p / "adapter_config.json").is_file() or (p / "config.json").is_file()]
    return str(ckpts[-1]) if ckpts else str(run)


def _records(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
        return data if isinstance(data, list) else []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _working_copy(ctx: Ctx, data: str) -> Path:
    """Edits go to RUNS/.web/data/<name>-edited.jsonl (a copy on the first edit): the picked file stays as it was."""
    src = Path(data)
    folder = ctx.area("data")
    if src.parent.resolve() == folder.resolve():
        return src
    if not src.is_file() or src.suffix not in (".json", ".jsonl"):
        raise gr.Error(f"{data}: examples can be added to a .json or .jsonl file")
    dst = folder / f"{jobs.safe_name(src.stem)}-edited.jsonl"
    if not dst.exists():
        dst.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _records(src)), encoding="utf-8")
    return dst


def _topic_rows(data: str, topic: str):
    import pandas as pd

    cols = ["#", "user", "assistant"]
    p = Path(data or "")
    if not topic or not p.is_file() or p.suffix not in (".json", ".jsonl"):
        return pd.DataFrame([], columns=cols)
    out = []
    for i, r in enumerate(_records(p)):
        if r.get("category") != topic:
            continue
        msgs = r.get("messages") or []
        u = next((m["content"] for m in msgs if m.get("role") == "user"), r.get("instruction", ""))
        a = next((m["content"] for m in msgs if m.get("role") == "assistant"), r.get("output", ""))
        out.append([i, u, a])
    return pd.DataFrame(out, columns=cols)


def render_eval(j: jobs.Job, lang: str):
    import pandas as pd

    from ..evaluation.results import EvalReport

    state = j.state()
    out = Path(j.output)
    if not out.is_file():
        note = "" if state == "running" else f"<pre>{esc(j.log_tail(1500))}</pre>"
        return (f"<div class='tc-summary'><b class='tc-state tc-{state}'>{state}</b> · "
                f"{tr(lang, 'evaluating…', '评测中…')}</div>{note}", gr.update(), gr.update(), gr.update())
    rep = EvalReport.model_validate_json(out.read_text(encoding="utf-8"))
    lines = []
    for m in [rep.tuned] + ([rep.base] if rep.base else []):
        s = m.scores
        lines.append(f"<tr><td>{'base: ' if m is rep.base else ''}{esc(m.model)}</td>"
                     f"<td>{'–' if m.loss is None else f'{m.loss:.3f}'}</td><td>{s.passed}/{s.n_judged}</td>"
                     f"<td>{'–' if s.fact_accuracy is None else f'{s.fact_accuracy:.0%}'}</td></tr>")
    head = (f"<div class='tc-summary'><b class='tc-state tc-{state}'>{state}</b> · {esc(Path(rep.target).name)} "
            f"{tr(lang, 'on', '于')} {esc(Path(rep.test_file).name)} ({rep.n_test})"
            f"<table class='tc-table'><tr><th>{tr(lang, 'model', '模型')}</th><th>loss</th>"
            f"<th>{tr(lang, 'passed', '通过')}</th><th>{tr(lang, 'fact acc.', '事实准确率')}</th></tr>{''.join(lines)}"
            "</table></div>")
    fails = sorted(rep.failures(), key=lambda e: (e.category or "", e.index))
    df = pd.DataFrame([[e.category or "", e.index, e.prompt, e.expected or "", e.got, "; ".join(e.checks.failed_checks)]
                       for e in fails],
                      columns=[tr(lang, "topic", "主题"), "#", tr(lang, "prompt", "提问"), tr(lang, "expected", "参考答案"),
                               tr(lang, "got", "模型回答"), tr(lang, "failed check", "未通过的检查")])
    adv = "".join(f"<li>{esc(a.message)}</li>" for a in rep.advice)
    advice = f"<h4>{tr(lang, 'Data advice', '数据建议')}</h4><ul class='tc-advice'>{adv}</ul>" if adv else ""
    topics = [a.category for a in rep.advice if a.category] + [e.category for e in fails if e.category]
    topics = list(dict.fromkeys(topics))
    return head, df, advice, gr.update(choices=topics, value=topics[0] if topics else None)
