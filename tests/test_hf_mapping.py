"""`export --to hf` writes what `tiaocan train` runs: one mapping (hf.py), checked by loading the files back."""
import json

import pytest

from tiaocan import derive, hf
from tiaocan.config import build_config
from tiaocan.exporting import export_config
from tiaocan.training import setup

# Resolved by the Trainer from epochs / ratios when the export has no data; compared after resolving below.
RESOLVED = {"max_steps", "warmup_steps", "lr_scheduler_kwargs", "eval_steps", "save_steps"}

CONFIGS = [
    dict(learning_rate=3e-4, warmup_ratio=0.05, per_device_train_batch_size=2, gradient_accumulation_steps=4,
         lora_rank=8, num_train_epochs=2.5, val_size=0.1, eval_steps=5, early_stopping_patience=2,
         gradient_checkpointing=True, lr_scheduler_type="cosine_with_min_lr"),
    dict(val_size=0.2, early_stopping_patience=3, num_train_epochs=1),  # cadences left to the run's length
    dict(finetuning_type="full", warmup_steps=3, max_steps=40, bf16=True, optim="adamw_torch_fused",
         eval_steps=4, save_steps=8, val_size=12, report_to="tensorboard", lora_target="q_proj,v_proj"),
]


@pytest.mark.parametrize("overrides", CONFIGS)
def test_exported_training_args_are_the_ones_train_uses(tmp_path, overrides):
    from transformers import TrainingArguments

    cfg = build_config(dict(output_dir=str(tmp_path / "run"), **overrides))
    n_eval = derive.held_out(100, cfg.val_size)
    sched = derive.schedule(cfg, 100 - n_eval, n_eval)
    trained = setup.training_arguments(cfg, sched, packed=True, group_by_length=False)

    res = export_config(cfg, "hf", tmp_path / "hf")
    assert res.dropped == {}  # the installed transformers has every key
    written = json.loads((tmp_path / "hf" / "training_args.json").read_text())
    # the exported file plus this machine's runtime keys (which train adds) is the run train does
    runtime = {k: v for k, v in hf.runtime_kwargs(use_cpu=True, world_size=1, packed=True,
                                                 group_by_length=False).items() if v is not None}
    assert not set(runtime) & set(written)
    exported = TrainingArguments(**written, **runtime)
    got, want = exported.to_dict(), trained.to_dict()
    assert {k for k in want if got.get(k) != want[k]} <= RESOLVED
    assert exported.activation_checkpointing == trained.activation_checkpointing == cfg.gradient_checkpointing
    # what the Trainer resolves from the exported epochs and warmup is what train derived for the same data
    total = exported.max_steps if exported.max_steps > 0 else derive.total_steps(
        derive.steps_per_epoch(100 - n_eval, exported.per_device_train_batch_size,
                               exported.gradient_accumulation_steps), exported.num_train_epochs)
    assert total == trained.max_steps == sched.total_steps
    assert exported.get_warmup_steps(total) == trained.warmup_steps == sched.warmup_steps
    for key in ("eval_steps", "save_steps"):  # a ratio is resolved by the Trainer (rounding up)
        mine, theirs = getattr(exported, key), getattr(trained, key)
        assert theirs == (mine if mine >= 1 else pytest.approx(total * mine, abs=1)), key


def test_exported_lora_config_is_the_one_train_uses(tmp_path, tiny_model_dir):
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM

    from tiaocan.training.lora import lora_config

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    for target in ("all", "q_proj,v_proj"):
        cfg = build_config(dict(lora_rank=16, lora_alpha=8, lora_dropout=0.1, use_rslora=True, lora_target=target,
                                output_dir=str(tmp_path / "run")))
        res = export_config(cfg, "hf", tmp_path / target)
        exported = LoraConfig(**json.loads(open(res.files[1]).read()))
        assert exported.to_dict() == lora_config(cfg, model).to_dict()


def test_keys_the_installed_transformers_lacks_are_named(tmp_path, monkeypatch):
    monkeypatch.setattr(hf, "unknown_keys", lambda kwargs: ["activation_checkpointing"])
    res = export_config(build_config(dict(output_dir=str(tmp_path / "r"))), "hf", tmp_path)
    assert "activation_checkpointing" in res.dropped and "transformers" in res.dropped["activation_checkpointing"]
    assert "activation_checkpointing" not in json.loads(open(res.files[0]).read())
