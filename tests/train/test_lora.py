"""LoRA adapter config and the LoRA+ optimizer (LLaMA-Factory semantics) on the tiny model."""
import pytest

from tiaocan.config import build_config
from tiaocan.errors import UserError


def _model(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir)


def test_target_all_covers_every_linear_but_the_head(tiny_model_dir):
    from tiaocan.training.lora import apply_lora

    model = apply_lora(build_config(dict(model_name_or_path=str(tiny_model_dir), lora_rank=4)), _model(tiny_model_dir))
    adapted = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if hasattr(m, "lora_A")}
    assert adapted == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert not any("lm_head" in n and "lora" in n for n, _ in model.named_parameters())


def test_rslora_dora_and_alpha_reach_peft(tiny_model_dir):
    from tiaocan.training.lora import lora_config

    cfg = build_config(dict(lora_rank=16, lora_alpha=8, lora_dropout=0.1, use_rslora=True, use_dora=True,
                            lora_target="q_proj,v_proj"))
    lc = lora_config(cfg, _model(tiny_model_dir))
    assert (lc.r, lc.lora_alpha, lc.lora_dropout, lc.use_rslora, lc.use_dora) == (16, 8, 0.1, True, True)
    assert set(lc.target_modules) == {"q_proj", "v_proj"}
    assert build_config(dict(lora_rank=8)).effective_lora_alpha == 16


def test_unknown_lora_target_names_the_available_layers(tiny_model_dir):
    from tiaocan.training.lora import apply_lora

    with pytest.raises(UserError, match=r"lora_target: query_key_value matches no linear layer.*q_proj"):
        apply_lora(build_config(dict(lora_target="q_proj,query_key_value")), _model(tiny_model_dir))


def test_loraplus_groups_and_learning_rates(tiny_model_dir, tmp_path):
    from transformers import TrainingArguments

    from tiaocan.training.lora import apply_lora, create_loraplus_optimizer

    cfg = build_config(dict(lora_rank=4, loraplus_lr_ratio=16, learning_rate=2e-4, weight_decay=0.01))
    model = apply_lora(cfg, _model(tiny_model_dir))
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=cfg.learning_rate, weight_decay=0.01,
                             use_cpu=True, report_to="none")
    opt = create_loraplus_optimizer(model, args, cfg)
    ids = {id(p): n for n, p in model.named_parameters() if p.requires_grad}
    by_lr = {}
    for g in opt.param_groups:
        for p in g["params"]:
            by_lr.setdefault(g["lr"], set()).add(ids[id(p)])
    a_names = {n for n in ids.values() if "lora_A" in n}
    b_names = {n for n in ids.values() if "lora_B" in n}
    assert by_lr[2e-4] == a_names
    assert by_lr[2e-4 * 16] == b_names
    assert all(g["weight_decay"] == 0.01 for g in opt.param_groups if g["params"])
    assert type(opt).__name__ == "AdamW"


def test_loraplus_in_a_run_uses_the_ratio(base_cfg):
    """The Trainer really builds the LoRA+ optimizer: B groups end at ratio x the A groups' lr."""
    from transformers import TrainerCallback

    from tiaocan.training import train

    seen = {}

    class Grab(TrainerCallback):
        def on_train_end(self, args, state, control, optimizer=None, **kw):
            seen["lrs"] = sorted({g["lr"] for g in optimizer.param_groups if g["params"]})

    train(dict(base_cfg, loraplus_lr_ratio=8, lr_scheduler_type="constant", max_steps=2), callbacks=[Grab()], quiet=True)
    low, high = seen["lrs"]
    assert high == pytest.approx(8 * low) and low == pytest.approx(base_cfg["learning_rate"])


def test_loraplus_with_full_finetuning_is_refused(base_cfg):
    from tiaocan.training import train

    with pytest.raises(UserError, match="loraplus_lr_ratio"):
        train(dict(base_cfg, finetuning_type="full", loraplus_lr_ratio=16), quiet=True)


def test_autocast_round_trip_skip_changes_nothing(tiny_model_dir):
    """Under autocast, PEFT's fp32 cast of a bf16 adapter input is undone at once: switching it off leaves the loss
    and every gradient bit-identical and launches fewer ops; kept with lora_dropout > 0."""
    import torch
    from peft import get_peft_model

    from tiaocan.config import build_config
    from tiaocan.training.lora import lora_config, skip_autocast_round_trip
    from tiaocan.models import load_model

    ids = torch.randint(3, 200, (2, 24), generator=torch.Generator().manual_seed(0))

    def run(skip: bool):
        cfg = build_config(dict(model_name_or_path=str(tiny_model_dir), dataset="x.jsonl", lora_rank=4))
        base = load_model(str(tiny_model_dir), dtype=torch.bfloat16)
        torch.manual_seed(0)
        model = get_peft_model(base, lora_config(cfg, base))
        with torch.no_grad():  # B = 0 at init would hide the adapter's share of the input gradient
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.05, generator=torch.Generator().manual_seed(1))
        if skip:
            assert skip_autocast_round_trip(model, cfg) > 0
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
        copies = sum(e.count for e in prof.key_averages() if e.key == "aten::_to_copy")
        return loss.item(), [p.grad.clone() for p in model.parameters() if p.requires_grad], copies

    loss, grads, copies = run(False)
    loss_skip, grads_skip, copies_skip = run(True)
    assert loss_skip == loss
    assert all(torch.equal(a, b) for a, b in zip(grads, grads_skip))
    assert copies_skip < copies
    cfg = build_config(dict(model_name_or_path=str(tiny_model_dir), dataset="x.jsonl", lora_dropout=0.1))
    assert skip_autocast_round_trip(torch.nn.Linear(2, 2), cfg) == 0
