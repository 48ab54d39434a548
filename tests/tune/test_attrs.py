"""Trial and study attrs go through one typed accessor (tuning/attrs.py) whose key names are the study's on-disk
format; the tuning modules import each other in one direction only."""
import ast
import re
from pathlib import Path

import optuna
import pytest

from tiaocan.tuning.attrs import StudyAttrs, TrialAttrs

TUNING = Path(__file__).resolve().parents[2] / "src" / "tiaocan" / "tuning"


def test_trial_attrs_round_trip_and_a_typo_is_an_error():
    study = optuna.create_study()
    t = study.ask()
    TrialAttrs.write(t, bracket=1, rung=0, rungs=2, tokens=120, wall_s=1.5)
    assert t.user_attrs == {"bracket": 1, "rung": 0, "rungs": 2, "tokens": 120, "wall_s": 1.5}  # the stored keys
    a = TrialAttrs.of(t)
    assert a.tag == (1, 0) and a.placement() == {"bracket": 1, "rung": 0, "rungs": 2} and a.steps == 0
    with pytest.raises(TypeError, match="rugn"):
        TrialAttrs.write(t, rugn=1)
    with pytest.raises(TypeError, match="promoted"):
        TrialAttrs.queued(promoted=1)


def test_study_attrs_keep_the_stored_key_names():
    """A study written before this accessor existed (or by another worker) reads the same."""
    study = optuna.create_study()
    study.set_user_attr("tiaocan_brackets", [2, 1])
    study.set_user_attr("tiaocan_promoted_rungs", ["0:0"])
    study.set_user_attr("tiaocan_full_run_tokens", 5000)
    a = StudyAttrs.of(study)
    assert (a.brackets, a.promoted_rungs, a.full_run_tokens, a.space) == ([2, 1], ["0:0"], 5000, None)
    StudyAttrs.write(study, space_signature="abc")
    assert study.user_attrs["tiaocan_space_signature"] == "abc"
    with pytest.raises(TypeError):
        StudyAttrs.write(study, bracket=[1])


def test_only_attrs_py_names_user_attr_keys():
    """Every other module reads and writes user attrs through TrialAttrs / StudyAttrs."""
    raw = re.compile(r"set_user_attr\(|user_attrs\s*(\[|\.get\()|user_attrs=(?!TrialAttrs\.queued\()")
    offenders = [f"{p.name}:{i}" for p in TUNING.glob("*.py") if p.name != "attrs.py"
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if raw.search(line)]
    assert offenders == []


def test_no_import_cycle_between_tuning_modules():
    deps = {}
    for p in TUNING.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):  # lazy imports inside functions count too
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        deps[p.stem] = found - {p.stem}

    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for d in deps.get(todo.pop(), ()):
                if d not in seen:
                    seen.add(d)
                    todo.append(d)
        return seen

    assert [m for m in deps if m != "__init__" and m in reach(m)] == []
