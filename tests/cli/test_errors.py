"""The CLI's exits and messages: usage errors exit 2 with the usage line, Ctrl-C 130 with the step, user text
is printed as written (no rich markup eaten), outputs never replace inputs, options checked before work."""
import json
import sys

import pytest

from helpers import run_cli


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"instruction": f"Q{i}", "output": f"A{i}"}) + "\n" for i in range(5)))
    return path


@pytest.mark.parametrize("args", [("train", "--bogus"), ("eval", "somewhere"), ("inspect",), ("plan", "--data")])
def test_usage_errors_exit_2_with_the_usage_line(monkeypatch, capsys, args):
    code, out = run_cli(monkeypatch, capsys, *args)
    assert code == 2
    assert "Usage:" in out and "MissingParameter" not in out and "NoSuchOption" not in out


def test_ctrl_c_in_train_exits_130_with_the_step(monkeypatch, capsys):
    from tiaocan.errors import TrainingInterrupted

    def interrupted(*a, **k):
        raise TrainingInterrupted("interrupted at step 3/12; resume with --resume", 3)

    import tiaocan.training.run  # noqa: F401  (the package attribute is a function until the subpackage loads)

    monkeypatch.setattr(sys.modules["tiaocan.training"], "train", interrupted)
    code, out = run_cli(monkeypatch, capsys, "train", "dataset=x.jsonl")
    assert code == 130
    assert "interrupted at step 3/12; resume with --resume" in out


def test_ctrl_c_elsewhere_exits_130(monkeypatch, capsys, data):
    def ctrl_c(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("tiaocan.data.inspect.inspect_data", ctrl_c)
    code, out = run_cli(monkeypatch, capsys, "inspect", data, "--no-plot")
    assert (code, out.strip()) == (130, "interrupted")


def test_user_text_is_not_eaten_as_markup(monkeypatch, capsys):
    from tiaocan.errors import UserError

    msg = "record 3 field 'history'[0] must be a [question, answer] pair; role '[bold]gpt[/]' in train[v2].jsonl"

    def bad(*a, **k):
        raise UserError(msg)

    monkeypatch.setattr("tiaocan.data.inspect.inspect_data", bad)
    code, out = run_cli(monkeypatch, capsys, "inspect", "x.jsonl", "--no-plot")
    assert code == 2
    assert msg in out.replace("\n", "")


def test_outputs_never_replace_inputs(monkeypatch, capsys, data, tmp_path):
    before = data.read_bytes()
    code, out = run_cli(monkeypatch, capsys, "inspect", data, "--json", data, "--no-plot")
    assert code == 2 and "--json" in out and "is an input" in out
    code, out = run_cli(monkeypatch, capsys, "plan", "--data", data, "-o", data)
    assert code == 2 and "--output" in out
    code, out = run_cli(monkeypatch, capsys, "inspect", data, "--plot", data)
    assert code == 2 and "--plot" in out
    assert data.read_bytes() == before


def test_unwritable_output_is_refused_before_work(monkeypatch, capsys, data, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")

    def never(*a, **k):
        raise AssertionError("ran the work before checking --json")

    monkeypatch.setattr("tiaocan.data.inspect.inspect_data", never)
    code, out = run_cli(monkeypatch, capsys, "inspect", data, "--json", blocker / "sub" / "r.json", "--no-plot")
    assert code == 2 and "afile is a file" in out
    import tiaocan.diagnosis.core  # noqa: F401

    monkeypatch.setattr(sys.modules["tiaocan.diagnosis"], "diagnose", never)
    (tmp_path / "folder").mkdir()
    code, out = run_cli(monkeypatch, capsys, "diagnose", data, "--json", tmp_path / "folder")
    assert code == 2 and "is a folder" in out


@pytest.mark.parametrize("args, flag", [
    (("inspect", "{data}", "--format", "chatml", "--no-plot"), "--format 'chatml'"),
    (("plan", "--data", "{data}", "--format", "chatml"), "--format 'chatml'"),
    (("export", "{data}", "--to", "llamafactoryy"), "--to 'llamafactoryy'"),
])
def test_enumerated_options(monkeypatch, capsys, data, args, flag):
    code, out = run_cli(monkeypatch, capsys, *(a.format(data=data) for a in args))
    assert code == 2 and flag in out and "KeyError" not in out


def test_eval_checks_the_test_file_before_loading_a_model(monkeypatch, capsys, tmp_path):
    def never(*a, **k):
        raise AssertionError("loaded the model before checking --test")

    import tiaocan.evaluation.run  # noqa: F401

    monkeypatch.setattr(sys.modules["tiaocan.evaluation"], "evaluate", never)
    code, out = run_cli(monkeypatch, capsys, "eval", "smollm2-135m", "--test", tmp_path / "missing.jsonl")
    assert code == 2 and "--test file not found" in out


def test_export_keeps_other_datasets_in_dataset_info(tmp_path, data):
    from tiaocan import export
    from tiaocan.config import build_config, save_config

    cfg = save_config(build_config({"dataset": str(data)}), tmp_path / "plan.yaml")
    out = tmp_path / "lf"
    out.mkdir()
    (out / "dataset_info.json").write_text(json.dumps({"mine": {"file_name": "mine.json"}}))
    export(cfg, "llamafactory", out)
    info = json.loads((out / "dataset_info.json").read_text())
    assert "mine" in info and "d" in info


def test_data_file_given_as_config(monkeypatch, capsys, data):
    code, out = run_cli(monkeypatch, capsys, "train", data)
    assert code == 2 and f"tiaocan train dataset={data}" in out.replace("\n", "")
