"""scripts/demo_table.py: round 2's data = train + the extra rows of the topics the eval advice names; the table."""
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUPPORT = ROOT / "src/tiaocan/examples/support"
spec = importlib.util.spec_from_file_location("demo_table", ROOT / "scripts/demo_table.py")
demo_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo_table)


def _eval(fa: dict, advice=()):
    def model(acc):
        cats = [{"category": c, "scores": {"fact_accuracy": a, "passed": int(a * 6), "n_judged": 6}} for c, a in acc.items()]
        return {"scores": {"fact_accuracy": sum(acc.values()) / len(acc), "passed": 1, "n_judged": 12},
                "categories": cats}
    return {"tuned": model(fa), "base": model({c: 0.0 for c in fa}), "advice": list(advice)}


def test_add_takes_the_named_topics_rows_and_table_prints(tmp_path, capsys):
    adv = [{"category": "returns", "kind": "add_examples", "message": "topic 'returns' has 6 ... add examples"},
           {"category": None, "kind": "undertrained", "message": "..."}]
    e1 = tmp_path / "e1.json"
    e1.write_text(json.dumps(_eval({"returns": 0.0, "prices": 0.5}, adv)))
    out = tmp_path / "train2.jsonl"
    assert demo_table.main(["add", str(e1), "--train", str(SUPPORT / "train.jsonl"), "--extra",
                            str(SUPPORT / "extra.jsonl"), "-o", str(out)]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 244 + 18 and sum(r["category"] == "returns" for r in rows) == 24
    assert (tmp_path / "added_topics.txt").read_text() == "returns\n"
    e2 = tmp_path / "e2.json"
    e2.write_text(json.dumps(_eval({"returns": 0.5, "prices": 0.5})))
    demo_table.main(["table", str(e1), str(e2), "--added", "returns"])
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("returns *"))
    assert "0% (0/6)" in line and "50% (3/6)" in line and "+50 pts" in line


def test_add_falls_back_to_inspect_when_the_advice_names_no_topic(tmp_path):
    e1 = tmp_path / "e1.json"
    e1.write_text(json.dumps(_eval({"prices": 0.5})))
    ins = tmp_path / "inspect.json"
    ins.write_text(json.dumps({"categories": {"under_represented": ["returns", "warranty"]}}))
    out = tmp_path / "t.jsonl"
    demo_table.main(["add", str(e1), "--inspect", str(ins), "--train", str(SUPPORT / "train.jsonl"), "--extra",
                     str(SUPPORT / "extra.jsonl"), "-o", str(out)])
    assert len(out.read_text().splitlines()) == 244 + 36


def test_extra_rows_never_copy_a_test_or_training_question():
    q = lambda name: {json.loads(x)["messages"][0]["content"] for x in (SUPPORT / name).read_text().splitlines()}
    assert not q("extra.jsonl") & (q("test.jsonl") | q("train.jsonl"))
