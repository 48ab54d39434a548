"""`tiaocan inspect`: token lengths, cutoff_len advice and data problems."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from ._app import JsonOpt, app, console, write_json


@app.command("inspect")
def inspect_cmd(
    data: str = typer.Argument(..., help="Data file (json/jsonl/csv/parquet), folder, or dataset name from --dataset-dir."),
    model: str = typer.Option("smollm2-135m", "--model", "-m", help="Model whose tokenizer and chat template to use."),
    cutoff_len: Optional[int] = typer.Option(None, "--cutoff-len", help="Evaluate this cutoff (default: the recommended one)."),
    truncation: str = typer.Option("keep_response", "--truncation", help="keep_response | drop | cut_end."),
    dataset_dir: str = typer.Option("data", "--dataset-dir", help="Folder with dataset_info.json (LLaMA-Factory)."),
    formatting: str = typer.Option("auto", "--format", help="auto | alpaca | sharegpt | openai."),
    test: Optional[str] = typer.Option(None, "--test", help="Test set, to check its facts are covered by the training data."),
    plot: Optional[Path] = typer.Option(Path("tiaocan_lengths.png"), "--plot", help="Histogram PNG path."),
    no_plot: bool = typer.Option(False, "--no-plot", help="Do not write the histogram."),
    json_path: Optional[Path] = JsonOpt,
) -> None:
    """How long are my examples, what cutoff_len should I use, and what gets cut?"""
    from ..data.inspect import inspect_data
    from ..config import check_window
    from ._checks import FORMATS, check_choice, check_output, data_inputs

    check_choice("--format", formatting, FORMATS)
    inputs = data_inputs(data, test, dataset_dir=dataset_dir)
    check_output("--json", json_path, inputs)
    check_output("--plot", None if no_plot else plot, inputs)
    check_window(cutoff_len, truncation, ("--cutoff-len", "--truncation"))
    rep = inspect_data(data, model=model, cutoff_len=cutoff_len, truncation=truncation, dataset_dir=dataset_dir,
                       formatting=formatting, plot=None if no_plot else plot, test=test)
    show_report(rep)
    write_json(rep, json_path)


def show_report(rep) -> None:
    console.print(f"[bold]{rep.data}[/]  ·  {rep.num_examples} examples  ·  {rep.num_turns_mean} answers/example "
                  f"({rep.multi_turn_examples} multi-turn)  ·  tokenizer of {rep.model}")
    t = Table(title="Token lengths (chat template applied)")
    for col in ("", "min", "mean", "p50", "p90", "p95", "p99", "max", "total"):
        t.add_column(col, justify="right")
    for name in ("full", "prompt", "response"):
        s = getattr(rep, name)
        t.add_row(name, str(s.min), f"{s.mean:.0f}", f"{s.p50:.0f}", f"{s.p90:.0f}", f"{s.p95:.0f}",
                  f"{s.p99:.0f}", str(s.max), f"{s.total:,}")
    console.print(t)
    console.print(f"Recommended [bold green]cutoff_len: {rep.recommended_cutoff_len}[/] — keeps "
                  f"{rep.recommended_coverage_pct}% of examples whole (≥99%, multiple of 64, model context {rep.model_context}).")
    a = Table(title="cutoff_len options")
    for col in ("cutoff_len", "examples whole", "answer tokens lost", "tokens / epoch", "memory vs recommended"):
        a.add_column(col, justify="right")
    for o in rep.alternatives:
        a.add_row(str(o.cutoff_len), f"{o.examples_whole_pct}%", f"{o.response_tokens_lost_pct}%",
                  f"{o.tokens_trained:,}", f"{o.relative_memory}x")
    console.print(a)
    c = rep.at_cutoff
    console.print(f"At [bold]cutoff_len {c.cutoff_len}[/] with truncation [bold]{c.truncation}[/]: {c.examples_cut} examples cut, "
                  f"{c.examples_dropped} dropped, {c.answers_cut} answers cut at the end, "
                  f"{c.response_tokens_lost:,} answer tokens lost ({c.response_tokens_lost_pct}%), "
                  f"{c.no_trainable_tokens} left with nothing to learn.")
    if c.whole_answer_lost:
        console.print(f"  [yellow]examples losing a whole answer:[/] {', '.join(map(str, c.whole_answer_lost))}")
    p = rep.problems
    issues = []
    if p.empty_responses:
        issues.append(f"{p.empty_responses} empty answers (e.g. examples {', '.join(map(str, p.empty_response_examples[:5]))})")
    if p.duplicates:
        issues.append(f"{p.duplicates} exact duplicates (e.g. {p.duplicate_examples[0]})")
    if p.mixed_languages:
        issues.append("mixed languages: " + ", ".join(f"{k} {v:.0%}" for k, v in p.languages.items()))
    if c.no_trainable_tokens:
        issues.append(f"{c.no_trainable_tokens} examples with no trainable tokens at this cutoff")
    langs = ", ".join(f"{k} {v:.0%}" for k, v in p.languages.items())
    console.print("Data problems: " + ("; ".join(issues) if issues else "[green]none found[/]") +
                  ("" if p.mixed_languages or p.multilingual else f"  (languages: {langs})"))
    if p.multilingual:  # said once, as information: a bilingual set is a choice, not a defect
        console.print(f"Languages: {langs} — multilingual, each language well represented (>= 20 % of the examples)")
    if rep.categories:
        _show_categories(rep.categories)
    if rep.plot:
        console.print(f"[dim]histogram: {rep.plot}[/]")


def _show_categories(cat: dict) -> None:
    """Topic balance (tiaocan.data.categories.CategoryReport as a dict): rows per topic, the thin ones, rare facts."""
    topics = cat.get("topics") or []
    if topics:
        has_test = any(t.get("test") for t in topics)
        t = Table(title=f"Topics ('{cat.get('column')}'; median {cat.get('median_per_topic') or 0:g} training rows per topic)")
        for col in ("category", "train", *(("test",) if has_test else ()), "vs median"):
            t.add_column(col, justify="left" if col == "category" else "right")
        for row in sorted(topics, key=lambda r: -r["train"]):
            thin = row.get("under_represented")
            t.add_row(f"[yellow]{escape(str(row['category']))}[/]" if thin else escape(str(row["category"])),
                      str(row["train"]), *((str(row.get("test", 0)),) if has_test else ()),
                      f"[yellow]{row['vs_median']:.2f}x[/]" if thin else f"{row['vs_median']:.2f}x")
        console.print(t)
    thin = cat.get("under_represented") or []
    if thin:
        console.print(f"  [yellow]•[/] under-represented topics: {', '.join(map(str, thin))} — add examples for them")
    for f in (cat.get("rare_facts") or [])[:8]:
        console.print(f"  [yellow]•[/] fact {escape(str(f['fact']))!s} ({escape(str(f.get('category') or '-'))}): "
                      f"{f['test_examples']} test rows need it, {f['train_mentions']} training answers state it")
    for n in cat.get("notes") or []:
        console.print(f"  [dim]note: {escape(str(n))}[/]")
