"""EvalReport → HTML: a section other reports can embed, and a standalone page (`tiaocan eval --html`)."""
from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Optional

from ..fonts import FONT_STACK
from .results import EvalReport, ModelEval, Scores

_STYLE = """body{font-family:""" + FONT_STACK + """;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}
th{background:#f3f3f3}.bad{color:#b00}.good{color:#070}.advice li{margin:.3em 0}code{background:#f6f6f6}
td.text{max-width:320px;white-space:pre-wrap}"""


def _pct(v: Optional[float]) -> str:
    return "–" if v is None else f"{v:.0%}"


def _num(v: Optional[float], fmt: str = ".3f") -> str:
    return "–" if v is None else format(v, fmt)


def _score_cells(s: Scores) -> str:
    return "".join(f"<td>{x}</td>" for x in (f"{s.passed}/{s.n_judged}", _pct(s.pass_rate), _pct(s.fact_accuracy),
                                             _pct(s.exact_match), _num(s.chrf, ".2f"), _num(s.rouge_l, ".2f")))


def _summary(report: EvalReport) -> str:
    models: list[ModelEval] = [report.tuned] + ([report.base] if report.base else [])
    head = "<tr><th>model</th><th>loss</th><th>ppl</th><th>passed</th><th>pass rate</th><th>fact acc.</th>" \
           "<th>exact</th><th>chrF</th><th>ROUGE-L</th><th>ex/s</th></tr>"
    rows = "".join(f"<tr><td>{escape(m.model)}</td><td>{_num(m.loss)}</td><td>{_num(m.perplexity, '.2f')}</td>"
                   f"{_score_cells(m.scores)}<td>{_num(m.examples_per_second, '.2f')}</td></tr>" for m in models)
    return f"<table>{head}{rows}</table>"


def _categories(report: EvalReport) -> str:
    if not report.tuned.categories:
        return ""
    base = {c.category: c.scores for c in (report.base.categories if report.base else [])}
    head = "<tr><th>category</th><th>train rows</th><th>test rows</th><th>passed</th><th>pass rate</th>" \
           "<th>fact acc.</th>" + ("<th>base fact acc.</th>" if base else "") + "</tr>"
    rows = []
    for c in report.tuned.categories:
        extra = f"<td>{_pct(base[c.category].fact_accuracy)}</td>" if c.category in base else ("<td>–</td>" if base else "")
        cls = ' class="bad"' if c.scores.pass_rate is not None and c.scores.pass_rate < 0.5 else ""
        rows.append(f"<tr{cls}><td>{escape(c.category)}</td><td>{c.train_examples if c.train_examples is not None else '–'}</td>"
                    f"<td>{c.scores.n}</td><td>{c.scores.passed}/{c.scores.n_judged}</td><td>{_pct(c.scores.pass_rate)}</td>"
                    f"<td>{_pct(c.scores.fact_accuracy)}</td>{extra}</tr>")
    return f"<h3>Per category</h3><table>{head}{''.join(rows)}</table>"


def _failures(report: EvalReport) -> str:
    failures = report.failures()
    if not failures:
        return "<p class='good'>No failed examples.</p>"
    groups: dict[str, list] = {}
    for e in failures:
        groups.setdefault(e.category or "(none)", []).append(e)
    parts = [f"<h3>Failures ({len(failures)})</h3>"]
    for cat, rows in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        body = "".join(f"<tr><td>{e.index}</td><td class='text'>{escape(e.prompt)}</td><td class='text'>{escape(e.expected or '')}</td>"
                       f"<td class='text'>{escape(e.got)}</td><td class='bad'>{escape('; '.join(e.checks.failed_checks))}</td></tr>"
                       for e in rows)
        parts.append(f"<h4>{escape(cat)} ({len(rows)})</h4><table><tr><th>#</th><th>prompt</th><th>expected</th>"
                     f"<th>got</th><th>failed check</th></tr>{body}</table>")
    return "".join(parts)


def render_section(report: EvalReport) -> str:
    """The evaluation as an HTML fragment (<section>), for embedding into other reports."""
    advice = "".join(f"<li>{escape(a.message)}</li>" for a in report.advice)
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
    return (f"<section class='tiaocan-eval'><h2>Evaluation of {escape(report.target)}</h2>"
            f"<p>test set <code>{escape(report.test_file)}</code>, {report.n_test} rows</p>{_summary(report)}"
            + (f"<h3>Data advice</h3><ul class='advice'>{advice}</ul>" if advice else "")
            + _categories(report) + _failures(report)
            + (f"<h3>Notes</h3><ul>{notes}</ul>" if notes else "") + "</section>")


def write_html(report: EvalReport, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>tiaocan eval</title>"
                 f"<style>{_STYLE}</style></head><body>{render_section(report)}</body></html>", encoding="utf-8")
    return p
