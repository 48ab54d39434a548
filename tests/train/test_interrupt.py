"""Ctrl-C says where training stopped and how to resume; typos in enumerated options stop before the model loads."""
import pytest
from transformers import TrainerCallback

from tiaocan.errors import TrainingInterrupted, UserError


class CtrlCAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.step:
            raise KeyboardInterrupt


def test_ctrl_c_names_the_step_and_resume(base_cfg, tmp_path):
    from tiaocan.training import RunSummary, train

    cfg = dict(base_cfg, max_steps=4, save_steps=1)
    with pytest.raises(TrainingInterrupted, match=r"interrupted at step 2/4; resume with --resume .*checkpoint-"):
        train(cfg, callbacks=[CtrlCAt(2)], quiet=True)
    assert RunSummary.read(tmp_path / "run").stop_reason == "interrupted"
    assert train(cfg, resume=True, quiet=True).global_step == 4


def test_ctrl_c_before_a_checkpoint_says_there_is_nothing_to_resume(base_cfg):
    from tiaocan.training import train

    with pytest.raises(TrainingInterrupted, match=r"step 1/4 before the first checkpoint.*--overwrite"):
        train(dict(base_cfg, max_steps=4), callbacks=[CtrlCAt(1)], quiet=True)


@pytest.mark.parametrize("key, value, match", [
    ("optim", "adamw_torchh", r"optim: 'adamw_torchh' .*did you mean adamw_torch"),
    ("report_to", "wandbb", r"report_to: 'wandbb' .*did you mean wandb"),
])
def test_enumerated_options_before_the_model_loads(base_cfg, monkeypatch, key, value, match):
    from tiaocan.training import run, train

    def never(cfg):
        raise AssertionError("loaded the model before checking the options")

    monkeypatch.setattr(run, "_load_model", never)
    with pytest.raises(UserError, match=match):
        train(dict(base_cfg, **{key: value}), quiet=True)


def test_ragged_csv_row_warns_about_the_empty_answer(base_cfg, tmp_path):
    from tiaocan.training import train

    csv = tmp_path / "d.csv"
    csv.write_text("instruction,output\n" + "".join(f"Q{i},A{i}\n" for i in range(7)) + "Q7\n")
    with pytest.warns(UserWarning, match=r"d.csv: 1 example\(s\) have an empty answer \(records 8\)"):
        train(dict(base_cfg, dataset=str(csv), max_steps=1), quiet=True)
