"""End-to-end training on the tiny model: pinned loss sequence, run-dir contents, summary, derived numbers."""
import json

import pytest
import yaml

from train_helpers import read_log

# Fixed seed, CPU: the first optimizer steps' losses of the LoRA run below. Re-pin only on purpose
# (a change here means training itself changed: data order, loss normalisation, init or schedule).
PINNED_LOSSES = [6.2131, 6.2577, 6.1742, 6.1455, 6.091, 6.0161, 6.0004, 5.9762, 5.9889, 5.9897]


def test_lora_run_end_to_end(base_cfg, tmp_path):
    from tiaocan.training import RunSummary, train

    cfg = dict(base_cfg, gradient_accumulation_steps=2, num_train_epochs=2, val_size=0.1, save_steps=4, eval_steps=5,
               lora_rank=4, lora_alpha=8, lr_scheduler_type="cosine", warmup_ratio=0.2)
    s = train(cfg, quiet=True)
    run = tmp_path / "run"
    # 36 train examples / micro 4 = 9 micro-batches → 5 optimizer steps per epoch (last one accumulates 1)
    assert (s.global_step, s.total_steps, s.effective_batch) == (10, 10, 8)
    assert s.stop_reason == "completed" and s.epochs == pytest.approx(2.0)
    for name in ("trainer_log.jsonl", "trainer_state.json", "run_summary.json", "training_loss.png",
                 "tiaocan_config.yaml", "adapter_model.safetensors", "adapter_config.json", "checkpoint-8"):
        assert (run / name).exists(), name
    assert RunSummary.read(run) == s
    log = read_log(run)
    train_rows = [r for r in log if "loss" in r]
    eval_rows = [r for r in log if "eval_loss" in r]
    assert [r["current_steps"] for r in train_rows] == list(range(1, 11))
    assert len(eval_rows) == 2 and all(r["total_steps"] == 10 for r in log)
    for key in ("lr", "epoch", "percentage", "elapsed_time", "remaining_time", "throughput", "total_tokens", "grad_norm"):
        assert key in train_rows[0], key
    # warmup 2 steps then cosine: lr rises then falls to ~0
    lrs = [r["lr"] for r in train_rows]
    assert lrs[0] < lrs[1] and lrs[2] > lrs[-1] and lrs[-1] < 0.1 * cfg["learning_rate"]
    assert s.tokens_seen == train_rows[-1]["total_tokens"] > 0
    # one definition of "final train loss" (tiaocan.losscurve): the median of the last tenth, at least 5 losses
    assert s.final_train_loss == pytest.approx(sorted(r["loss"] for r in train_rows[-5:])[2])
    assert s.last_train_loss == pytest.approx(train_rows[-1]["loss"])
    assert s.best_eval_loss == pytest.approx(min(r["eval_loss"] for r in eval_rows))
    assert s.trainable_params > 0 and s.peak_memory_mb > 0
    saved = yaml.safe_load((run / "tiaocan_config.yaml").read_text())
    assert saved["lora_rank"] == 4 and saved["val_size"] == 0.1
    losses = [r["loss"] for r in train_rows]
    if PINNED_LOSSES is not None:
        assert losses == pytest.approx(PINNED_LOSSES, abs=2e-3)
    else:  # pragma: no cover - printed once to pin
        print("PIN", json.dumps([round(x, 4) for x in losses]))
        raise AssertionError("pin the loss sequence")


def test_full_finetune_learns_and_saves_model(base_cfg, tmp_path):
    from tiaocan.training import train

    s = train(dict(base_cfg, finetuning_type="full", num_train_epochs=2), quiet=True)
    assert s.stop_reason == "completed" and s.final_train_loss < s.best_train_loss + 1.0
    log = [r["loss"] for r in read_log(tmp_path / "run") if "loss" in r]
    assert log[-1] < log[0] - 0.5  # full fine-tuning at lr 1e-2 clearly learns the toy data
    assert (tmp_path / "run" / "model.safetensors").exists()


def test_packed_batch_gives_the_padded_batch_loss(base_cfg, tiny_tokenizer, train_file):
    """Padding-free flattening must not change the loss: same examples, same loss as a padded batch
    (examples must not attend to each other: the model is loaded exactly as training loads it)."""
    import torch

    from tiaocan.config import build_config
    from tiaocan.data import load_dataset, render_dataset
    from tiaocan.training.data import make_collator, supports_packing
    from tiaocan.training.run import _load_model

    ds = render_dataset(load_dataset(str(train_file)).select(range(4)), tiny_tokenizer, 128)
    feats = [{"input_ids": r["input_ids"], "labels": r["labels"]} for r in ds]
    _, model = _load_model(build_config(base_cfg))
    model.eval()
    assert supports_packing(model)
    padded, packed = make_collator(tiny_tokenizer, False)(feats), make_collator(tiny_tokenizer, True)(feats)
    assert packed["input_ids"].shape[0] == 1 and "attention_mask" not in packed
    assert packed["input_ids"].numel() == sum(len(f["input_ids"]) for f in feats) < padded["input_ids"].numel()
    with torch.no_grad():
        lp = model(**padded).loss
        lf = model(**packed).loss
    assert lf.item() == pytest.approx(lp.item(), abs=1e-5)


def test_callable_module_and_public_api(base_cfg):
    import tiaocan
    import tiaocan.training

    assert "train" in tiaocan.__all__ and callable(tiaocan.train)
    s = tiaocan.train(dict(base_cfg, max_steps=1), quiet=True)
    assert s.global_step == 1


def test_warmup_stable_decay_and_merged_export(base_cfg, tmp_path):
    from transformers import AutoModelForCausalLM

    from tiaocan.training import train

    s = train(dict(base_cfg, max_steps=20, warmup_steps=2, lr_scheduler_type="warmup_stable_decay",
                   merge_adapter=True, learning_rate=1e-3), quiet=True)
    lrs = [r["lr"] for r in read_log(tmp_path / "run") if "loss" in r]
    # the logged lr is the one each step used: warmup 0 -> 1e-3 over the first 2 steps, then stable
    assert s.global_step == 20 and lrs[0] < lrs[1] < lrs[2] == pytest.approx(1e-3)
    assert all(lr == pytest.approx(1e-3) for lr in lrs[2:19])
    assert lrs[19] < 0.9e-3  # decay over the last 10 % (2 steps)
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "run" / "merged")
    assert not any("lora" in n for n, _ in merged.named_parameters())
