"""Loading: each format and file type; bad input gives one clear message naming file/record/field."""
import json

import pytest

from tiaocan.data import load_dataset, messages_of
from tiaocan.errors import DataError


def _write(path, rows):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


ALPACA = [{"instruction": "Add", "input": "2+2", "output": "4", "system": "math", "history": [["hi", "hello"]]},
          {"instruction": "Say hi", "input": "", "output": "hi"}]


def test_alpaca_jsonl_with_system_and_history(tmp_path):
    ds = load_dataset(str(_write(tmp_path / "a.jsonl", ALPACA)))
    m = messages_of(ds[0])
    assert [x["role"] for x in m] == ["system", "user", "assistant", "user", "assistant"]
    assert m[3]["content"] == "Add\n2+2" and m[4]["content"] == "4"
    assert messages_of(ds[1])[0] == {"role": "user", "content": "Say hi"}


def test_sharegpt_json_array_and_extra_columns_pass_through(tmp_path):
    rows = [{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}], "category": "x"}]
    p = tmp_path / "s.json"
    p.write_text(json.dumps(rows))
    ds = load_dataset(str(p))
    assert messages_of(ds[0]) == [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert ds[0]["category"] == "x"


def test_openai_parquet_and_csv(tmp_path):
    import datasets

    rows = {"messages": [[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]]}
    datasets.Dataset.from_dict(rows).to_parquet(str(tmp_path / "o.parquet"))
    assert messages_of(load_dataset(str(tmp_path / "o.parquet"))[0])[1]["content"] == "a"
    (tmp_path / "a.csv").write_text("instruction,input,output\nAdd,1+1,2\n")
    assert messages_of(load_dataset(str(tmp_path / "a.csv"))[0])[1]["content"] == "2"


def test_dataset_info_json(tmp_path):
    _write(tmp_path / "mine.jsonl", [{"q": "hi", "a": "yo"}])
    (tmp_path / "dataset_info.json").write_text(json.dumps(
        {"mine": {"file_name": "mine.jsonl", "columns": {"prompt": "q", "response": "a"}},
         "gone": {"file_name": "missing.jsonl"}}))
    ds = load_dataset("mine", dataset_dir=tmp_path)
    assert messages_of(ds[0])[1]["content"] == "yo"
    with pytest.raises(DataError, match="missing.jsonl"):
        load_dataset("gone", dataset_dir=tmp_path)
    with pytest.raises(DataError, match="no dataset named 'nope'"):
        load_dataset("nope", dataset_dir=tmp_path)


@pytest.mark.parametrize("content,match", [
    ('{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": \n', "line 2"),
    ("", "empty"),
    ('{"question": "a", "answer": "b"}\n', "cannot tell the format"),
    ('{"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}]}\n', "record 1: turn 0"),
    ('{"messages": [{"role": "user", "content": "a"}]}\n', "must end with an assistant"),
    ('{"instruction": "a", "output": 5}\n{"instruction": "a", "output": "x"}\n', "record 1"),
])
def test_bad_input_messages(tmp_path, content, match):
    p = tmp_path / "bad.jsonl"
    p.write_text(content)
    before = p.read_bytes()
    with pytest.raises(DataError, match=match):
        load_dataset(str(p))
    assert p.read_bytes() == before  # nothing the user gave is modified


def test_unknown_extension_and_missing_file(tmp_path):
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="unknown file type"):
        load_dataset(str(tmp_path / "x.txt"))
    with pytest.raises(DataError, match="not found|does not exist"):
        load_dataset(str(tmp_path / "nope.jsonl"))


def test_test_sets_may_end_with_the_user_turn(tmp_path):
    p = _write(tmp_path / "t.jsonl", [{"messages": [{"role": "user", "content": "q"}]},
                                      {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}])
    with pytest.raises(DataError, match="must end with an assistant"):
        load_dataset(str(p))
    ds = load_dataset(str(p), require_answer=False)
    assert [len(messages_of(r)) for r in ds] == [1, 2]
    a = _write(tmp_path / "a.jsonl", [{"instruction": "q"}])
    assert messages_of(load_dataset(str(a), require_answer=False)[0]) == [{"role": "user", "content": "q"}]
