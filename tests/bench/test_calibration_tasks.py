"""The calibration suite's tasks (bench/calibration/tasks.py): a subset task is its parent's first examples."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "calibration"))


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_subset_task_is_the_first_examples_of_its_parents_splits(tmp_path):
    import tasks

    assert tasks.build("support", tmp_path) == (214, 30)
    assert tasks.build("support60", tmp_path) == (60, 30)
    parent, sub = tmp_path / "support", tmp_path / "support60"
    assert _rows(sub / "train.jsonl") == _rows(parent / "train.jsonl")[:60]
    assert _rows(sub / "val.jsonl") == _rows(parent / "val.jsonl")  # the same held-out questions
    held_out = {json.dumps(r) for r in _rows(parent / "val.jsonl")}
    assert not held_out & {json.dumps(r) for r in _rows(sub / "train.jsonl")}  # never trained on
    assert set(tasks.SUBSETS) <= set(tasks.TASKS) and set(tasks.SUBSETS.values()) <= set(tasks.TASKS)


def test_answer_repetition_reads_repeated_labels_as_1_and_new_text_as_0(tmp_path):
    """repetition.py (the data feature fit.py compares held out): class labels recur whole, paraphrased facts in part,
    open answers not at all; and the committed repetition.json is what tasks.py measures on the support set."""
    import tasks
    from repetition import answer_repetition

    assert answer_repetition(["sports", "food", "sports", "food"]) == 1.0
    assert answer_repetition(["The first answer says one thing.", "A second, wholly different reply here."]) == 0.0
    fact = "Our stores open Monday to Saturday 9:00-21:00."
    assert 0.5 < answer_repetition([f"Hi! {fact}", f"Sure, {fact}", "Shipping takes two to four working days."]) < 1
    assert answer_repetition(["only one"]) is None
    tasks.build("support", tmp_path)
    committed = json.loads((ROOT / "bench" / "calibration" / "repetition.json").read_text(encoding="utf-8"))
    assert round(tasks.repetition("support", tmp_path), 3) == committed["support"]
