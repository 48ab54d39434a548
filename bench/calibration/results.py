"""Copy fit.py's tables into bench/RESULTS.md "calibration", so the committed numbers are the committed runs'.

    .venv/bin/python bench/calibration/results.py            # rewrite the generated blocks in place
    .venv/bin/python bench/calibration/results.py --check    # change nothing; exit 1 when they are stale

The generated blocks are found by their first line, which fit.py prints and the prose around them never starts with:
the plans-and-baselines table, the "per kind" summary, the forms compared held out, the chosen form's fit, the
data-feature candidate, the LoRA+ pairs, the every-curve table, the stopping lines and the means over seeds.
Everything else in RESULTS.md (the prose, the other sections) is left as it is; tests/bench/test_calibration_fit.py
runs `--check`, so a run appended without re-syncing fails CI. (Written here because RESULTS.md mixes measured prose
with these tables: a template engine would need the prose moved into templates; replacing blocks by their first line
keeps the file as people edit it.)
"""
from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "RESULTS.md"
SECTION = "## calibration (the plan's learning rate, measured)"


def fit_output(runs: Path) -> list[str]:
    """fit.py's report on `runs`, as lines."""
    import fit

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fit.main(["--runs", str(runs)])
    return buf.getvalue().splitlines()


def _span(lines: list[str], start, stop) -> list[str]:
    """lines[i:j]: i the first line `start` accepts, j the first after it that `stop` accepts."""
    i = next(k for k, line in enumerate(lines) if start(line))
    j = next((k for k in range(i + 1, len(lines)) if stop(lines[k])), len(lines))
    return lines[i:j]


def blocks(out: list[str]) -> dict[str, list[str]]:
    """The generated blocks, by name, cut from fit.py's output."""
    table = lambda head: _span(out, lambda s: s.startswith(head), lambda s: not s.startswith("|"))  # noqa: E731
    per_kind = _span(out, lambda s: s.startswith("per kind"), lambda s: s.startswith("  plan_loto below"))
    per_kind.append(next(s for s in out if s.startswith("  plan_loto below")))
    forms = [*_span(out, lambda s: s.startswith("leave-one-task-out on the") and "across-model" in s, lambda s: s == ""),
             "", *_span(out, lambda s: s.startswith("leave-one-task-out on the") and "own model" in s, lambda s: s == "")]
    chosen = [next(s for s in out if s.startswith("fits on")), "",
              *_span(out, lambda s: s.startswith("## sqrt batch + seen:"), lambda s: s.startswith("## "))]
    while chosen[-1] == "":
        chosen.pop()
    data_form, repetition_form = (_span(out, lambda s, h=head: s.startswith(h), lambda s: s == "" or s.startswith(
        "the rule's")) for head in ("## sqrt batch + seen + log base loss", "## sqrt batch + seen + answer repetition"))
    loraplus = [s for s in _span(out, lambda s: s.startswith("LoRA+ "), lambda s: s.startswith("rank ")) if s]
    stopping = [s for s in out if s.startswith("stopping:") or s.startswith("  loss band")]
    seeds = _span(out, lambda s: s.startswith("means over seeds"), lambda s: s == "")
    return {"baselines": table("| model | task | run |"), "curves": table("| model | task | batch |"),
            "per kind": per_kind, "forms": forms, "chosen form": chosen, "data form": data_form,
            "repetition form": repetition_form,
            "LoRA+": loraplus, "stopping": stopping, "means over seeds": seeds}


def _replace_table(body: list[str], new: list[str]) -> list[str]:
    i = next(k for k, line in enumerate(body) if line.startswith(new[0][:20]))
    j = next((k for k in range(i, len(body)) if not body[k].startswith("|")), len(body))
    return body[:i] + new + body[j:]


def _replace_fence(body: str, first: str, new: list[str]) -> str:
    """The fenced block whose first line starts with `first`."""
    pattern = r"```\n" + re.escape(first) + r".*?```"
    return re.sub(pattern, lambda _: "```\n" + "\n".join(new) + "\n```", body, count=1, flags=re.S)


def synced(text: str, new: dict[str, list[str]]) -> str:
    """`text` (RESULTS.md) with the calibration section's generated blocks replaced by `new`."""
    cut = text.index(SECTION)
    head, body = text[:cut], text[cut:].splitlines()
    body = _replace_table(_replace_table(body, new["baselines"]), new["curves"])
    i = next(k for k, line in enumerate(body) if line.startswith("  stopping:"))
    body[i:i + len(new["stopping"])] = ["  " + s for s in new["stopping"]]  # a bullet's sub-lines in RESULTS
    out = "\n".join(body) + "\n"
    out = _replace_fence(out, "per kind", new["per kind"])
    out = _replace_fence(out, "leave-one-task-out on the", new["forms"])
    out = _replace_fence(out, "fits on", new["chosen form"])
    out = _replace_fence(out, "## sqrt batch + seen + log base loss", new["data form"])
    out = _replace_fence(out, "## sqrt batch + seen + answer repetition", new["repetition form"])
    out = _replace_fence(out, "LoRA+ ", new["LoRA+"])
    out = _replace_fence(out, "means over seeds", new["means over seeds"])
    return head + out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, default=HERE / "runs.jsonl")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 when the blocks are stale")
    a = ap.parse_args()
    text = a.results.read_text(encoding="utf-8")
    new = blocks(fit_output(a.runs))
    updated = synced(text, new)
    if a.check:
        if updated != text:
            sys.exit(f"{a.results}: the calibration tables are not fit.py's output on {a.runs}; "
                     f"run: .venv/bin/python bench/calibration/results.py")
        print(f"{a.results}: calibration blocks match fit.py")
        return
    a.results.write_text(updated, encoding="utf-8")
    print(f"{a.results}: calibration blocks rewritten from fit.py ({', '.join(new)})")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
