"""Helpers for `make demo` (scripts/demo.sh): the two steps of the loop that are not a tiaocan command.

    python scripts/demo_table.py add EVAL_JSON --train TRAIN --extra EXTRA -o OUT [--inspect INSPECT_JSON]
        Round 2's training data: TRAIN plus the rows of EXTRA whose topic the eval advice names
        ("add examples"); the topics go to added_topics.txt beside OUT. When the advice names none, the topics inspect found under-represented are used
        (and said so); when neither names one, nothing is added and the demo says so.
    python scripts/demo_table.py table EVAL1_JSON EVAL2_JSON
        Fact accuracy and passed rows per topic: base model, round 1, round 2, and the change round 1 → 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def named_topics(eval_json: dict) -> list[str]:
    return sorted({a["category"] for a in eval_json.get("advice", []) if a.get("kind") == "add_examples" and a.get("category")})


def add(args) -> int:
    report = json.loads(Path(args.eval_json).read_text(encoding="utf-8"))
    topics, source = named_topics(report), "the eval advice"
    for a in report.get("advice", []):
        if a.get("kind") == "add_examples":
            print(f"  eval advice: {a['message']}")
    if not topics and args.inspect:
        cats = (json.loads(Path(args.inspect).read_text(encoding="utf-8")).get("categories") or {})
        topics, source = sorted(cats.get("under_represented") or []), "inspect's topic balance (the eval advice named no topic)"
    train, extra = _rows(Path(args.train)), _rows(Path(args.extra))
    added = [r for r in extra if r.get("category") in topics]
    have = {t: sum(1 for r in train if r.get("category") == t) for t in topics}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in train + added), encoding="utf-8")
    if not topics:
        print(f"  no topic named by the eval advice or inspect: round 2 trains on the same {len(train)} rows")
    for t in topics:
        n = sum(1 for r in added if r.get("category") == t)
        print(f"  topic '{t}' (named by {source}): {have[t]} training rows + {n} from {args.extra} = {have[t] + n}")
    (out.parent / "added_topics.txt").write_text("".join(t + "\n" for t in topics), encoding="utf-8")
    print(f"  wrote {out} ({len(train)} + {len(added)} = {len(train) + len(added)} rows)")
    return 0


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def _by_topic(model: dict | None) -> dict[str, dict]:
    return {c["category"]: c["scores"] for c in (model or {}).get("categories", [])}


def table(args) -> int:
    r1 = json.loads(Path(args.eval1).read_text(encoding="utf-8"))
    r2 = json.loads(Path(args.eval2).read_text(encoding="utf-8"))
    base = r1.get("base") or r2.get("base")
    cols = [("base", _by_topic(base), base), ("round 1", _by_topic(r1["tuned"]), r1["tuned"]),
            ("round 2", _by_topic(r2["tuned"]), r2["tuned"])]
    topics = sorted({t for _, by, _ in cols for t in by})
    added = set(args.added or [])
    print("fact accuracy per topic (facts found / facts asked; passed rows in brackets)")
    head = f"{'topic':<14}" + "".join(f"{name:>16}" for name, _, _ in cols) + f"{'round 1 → 2':>14}"
    print(head)
    print("-" * len(head))

    def cell(s: dict | None) -> str:
        return "-" if not s else f"{_pct(s.get('fact_accuracy'))} ({s.get('passed', 0)}/{s.get('n_judged', 0)})"

    def change(a: dict | None, b: dict | None) -> str:
        if not a or not b or a.get("fact_accuracy") is None or b.get("fact_accuracy") is None:
            return "-"
        return f"{100 * (b['fact_accuracy'] - a['fact_accuracy']):+.0f} pts"

    for t in topics:
        mark = " *" if t in added else ""
        print(f"{t + mark:<14}" + "".join(f"{cell(by.get(t)):>16}" for _, by, _ in cols)
              + f"{change(cols[1][1].get(t), cols[2][1].get(t)):>14}")
    print("-" * len(head))
    print(f"{'all':<14}" + "".join(f"{cell((m or {}).get('scores')):>16}" for _, _, m in cols)
          + f"{change(r1['tuned']['scores'], r2['tuned']['scores']):>14}")
    if added:
        print("* topics that got the extra training examples in round 2")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("add")
    a.add_argument("eval_json")
    a.add_argument("--train", required=True)
    a.add_argument("--extra", required=True)
    a.add_argument("--inspect")
    a.add_argument("-o", "--out", required=True)
    t = sub.add_parser("table")
    t.add_argument("eval1")
    t.add_argument("eval2")
    t.add_argument("--added", nargs="*", help="topics that got extra examples (marked in the table)")
    args = p.parse_args(argv)
    return add(args) if args.cmd == "add" else table(args)


if __name__ == "__main__":
    sys.exit(main())
