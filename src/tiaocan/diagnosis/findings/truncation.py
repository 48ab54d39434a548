"""Truncation: answers cut by cutoff_len, judged on the run's own data and config via `tiaocan inspect`.

Only runs when the config names a dataset that exists here (a path, or a name in dataset_dir/dataset_info.json)
and `tiaocan.data.inspect` imports; otherwise a note says why it was not checked. Cutting answers teaches the
model to stop mid-answer, which no loss curve shows.
"""
from __future__ import annotations

from pathlib import Path

from ..signals import Signals
from ..types import Change, Finding
from . import register
from ._common import words


def _resolve(sig: Signals) -> tuple[str, str] | None:
    spec, ddir = sig.cfg.get("dataset"), str(sig.cfg.get("dataset_dir", "data"))
    if not spec:
        return None
    run = Path(sig.curves.path)
    run = run if run.is_dir() else run.parent
    for base in (Path.cwd(), run, run.parent):
        parts = [p.strip() for p in str(spec).split(",") if p.strip()]
        d = Path(ddir) if Path(ddir).is_absolute() else base / ddir
        files = [Path(p) if Path(p).is_absolute() else base / p for p in parts]
        if all(f.exists() or (d / p).exists() for f, p in zip(files, parts)):
            return ",".join(str(f) if f.exists() else p for f, p in zip(files, parts)), str(d)
        if (d / "dataset_info.json").is_file():
            return str(spec), str(d)
    return None


@register("truncation")
def check(sig: Signals) -> list[Finding]:
    if not sig.check_data or "cutoff_len" not in sig.cfg:
        return []
    found = _resolve(sig)
    if found is None:
        if sig.cfg.get("dataset"):
            sig.notes.append(f"truncation not checked: dataset {sig.cfg['dataset']!r} not found from here")
        return []
    data, ddir = found
    try:
        from ...data.inspect import inspect_data  # lazy: loads a tokenizer; diagnose works without it

        rep = inspect_data(data, model=str(sig.cfg.get("model_name_or_path", "smollm2-135m")),
                           cutoff_len=int(sig.cfg["cutoff_len"]), truncation=str(sig.cfg.get("truncation", "keep_response")),
                           dataset_dir=ddir, formatting=str(sig.cfg.get("formatting", "auto")))
    except Exception as e:  # noqa: BLE001 — any failure here must not stop the curve diagnosis
        sig.notes.append(f"truncation not checked: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        return []
    imp = rep.at_cutoff
    share = imp.answers_cut / max(1, rep.num_examples)
    if imp.answers_cut == 0 or (share < 0.01 and imp.response_tokens_lost_pct < 1.0):
        return []
    cut = int(sig.cfg["cutoff_len"])
    changes = []
    if rep.recommended_cutoff_len > cut:
        changes.append(Change(key="cutoff_len", old=cut, new=int(rep.recommended_cutoff_len),
                              why=f"covers {rep.recommended_coverage_pct:g}% of examples whole"))
    return [Finding(
        severity="warning" if share >= 0.05 or imp.response_tokens_lost_pct >= 5 else "info",
        evidence=[f"{imp.answers_cut} answers lose tokens, {imp.response_tokens_lost_pct:g}% of all answer tokens; "
                  f"longest example {rep.full.max} tokens, p99 {rep.full.p99:g}",
                  f"recommended cutoff_len {rep.recommended_cutoff_len}"],
        changes=changes, **words("truncation", cutoff=cut, cut=imp.answers_cut, total=rep.num_examples, share=share))]
