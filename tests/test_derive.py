"""derive.py: the numbers a plan prints are the numbers the run reports (split, steps per epoch, total, warmup)."""
import json

import pytest

from tiaocan import derive
from tiaocan.config import build_config

QA = [("Where is the shop?", "The shop is at 12 Harbour Road."),
      ("Can I return an item?", "Returns are accepted within 30 days with a receipt."),
      ("When do you open?", "We open from 9am to 6pm.")]


def test_split_rounds_the_same_way_everywhere():
    # 0.17 x 150 = 25.5: the plan used to floor (25), train rounded (26); one function now says 26.
    assert derive.held_out(150, 0.17) == 26 and derive.train_examples(150, 0.17) == 124
    assert derive.held_out(150, 20) == 20 and derive.held_out(150, 0) == 0


def test_steps_count_devices_and_short_last_accumulation():
    # 101 examples on 2 devices: 51 each (padded shards) -> 13 micro-batches of 4 -> 7 steps of 2 accumulations
    assert derive.steps_per_epoch(101, 4, 2, devices=2) == 7
    assert derive.steps_per_epoch(101, 4, 2, devices=1) == 13
    assert derive.total_steps(7, 2.5) == 18 and derive.total_steps(7, 2.5, max_steps=5) == 5
    # a ratio rounds up like TrainingArguments.get_warmup_steps; absolute steps win; never past the run
    assert derive.warmup_steps(18, 0.1) == 2 and derive.warmup_steps(18, 0.1, steps=4) == 4
    assert derive.warmup_steps(3, 0.5, steps=10) == 3


def test_warmup_matches_transformers():
    from transformers import TrainingArguments

    for total, ratio in ((18, 0.1), (1000, 0.03), (7, 0.05), (3, 0.1)):
        args = TrainingArguments(output_dir="x", warmup_steps=ratio, report_to="none")
        assert derive.warmup_steps(total, ratio) == args.get_warmup_steps(total)


@pytest.fixture(scope="module")
def data_150(tmp_path_factory):
    p = tmp_path_factory.mktemp("derive") / "qa.jsonl"
    with p.open("w") as f:
        for i in range(150):
            q, a = QA[i % 3]
            f.write(json.dumps({"instruction": q, "input": "", "output": " ".join([a] * (1 + i % 2))}) + "\n")
    return p


def test_plan_numbers_are_what_the_run_reports(tiny_model_dir, data_150, tmp_path):
    """Plan, then train the plan's YAML for exactly one epoch: the split, steps per epoch, total steps and
    warmup the plan printed are what the run reports, and the Trainer ends that epoch at epoch 1.0."""
    from tiaocan.planning import make_plan
    from tiaocan.training import train

    p = make_plan(str(tiny_model_dir), str(data_150), gpu="24GB",
                  overrides={"val_size": 0.17, "num_train_epochs": 1, "stop_loss_band": None,
                             "per_device_train_batch_size": 8, "effective_batch": 16,
                             "output_dir": str(tmp_path / "run"), "eval_steps": 1000, "save_steps": 1000})
    s = p.steps
    assert (s.train_examples, s.eval_examples) == (124, 26)
    assert s.steps_per_epoch == 8 and s.total_steps == 8  # ceil(ceil(124 / 8) / 2)
    run = train(str(p.save_yaml(tmp_path / "plan.yaml")), quiet=True)
    assert (run.train_examples, run.eval_examples) == (s.train_examples, s.eval_examples)
    assert (run.steps_per_epoch, run.total_steps, run.warmup_steps) == (s.steps_per_epoch, s.total_steps,
                                                                        s.warmup_steps)
    assert run.effective_batch == s.effective_batch
    assert run.global_step == s.total_steps and run.epochs == pytest.approx(1.0)


def test_schedule_of_a_config():
    cfg = build_config({"model_name_or_path": "m", "dataset": "d", "per_device_train_batch_size": 4,
                        "gradient_accumulation_steps": 2, "num_train_epochs": 2, "warmup_ratio": 0.1})
    sched = derive.schedule(cfg, 100, 10, devices=2)
    assert (sched.effective_batch, sched.steps_per_epoch, sched.total_steps, sched.warmup_steps) == (16, 7, 14, 2)
    assert sched.eval_steps == 1 and derive.schedule(cfg, 100, 0).eval_steps is None
    assert derive.tokens(sched, 10.0, 2.0) == (1000, 2000)
