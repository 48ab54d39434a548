"""Every advisor rule: its value, its reason (en + zh render) and what happens when the user overrides it."""
import math

import pytest

from tiaocan.errors import UserError
from tiaocan.planning import DataFacts, make_plan
from tiaocan.planning.archs import BUILTIN
from tiaocan.planning.rules.batch import CAP_FULL, CAP_LORA, effective_batch_for
from tiaocan.planning.rules.epochs import epochs_for
from tiaocan.planning.rules.learning_rate import recommend_lr, reference_lr
from tiaocan.planning.rules.lora import rank_for_tokens
from tiaocan.planning.rules.schedule import warmup_ratio_for
from tiaocan.planning.shapes import shape_from_config

QWEN7 = "Qwen/Qwen2.5-7B-Instruct"


def recs(plan):
    return {r.key: r for r in plan.recommendations}


# ---- learning rate
def test_lr_formula_matches_tinker_cookbook():
    llama = shape_from_config(BUILTIN["smollm2-360m"], name="smollm2-360m")  # llama family, uncalibrated id
    qwen = shape_from_config(BUILTIN["qwen2.5-7b"], name="qwen2.5-7b")
    assert reference_lr(llama, lora=True)[0] == pytest.approx(5e-5 * 10 * (2000 / 960) ** 0.781)
    assert reference_lr(qwen, lora=True)[0] == pytest.approx(5e-5 * 10 * (2000 / 3584) ** 0.0775)
    assert reference_lr(qwen, lora=False)[0] == pytest.approx(reference_lr(qwen, lora=True)[0] / 10)
    l8 = shape_from_config(BUILTIN["llama-3.1-8b"], name="meta-llama/Llama-3.1-8B-Instruct")
    assert reference_lr(l8, lora=True) == (3e-4, "measured (llama-3.1-8b)")  # the cookbook's sweep value


def test_lr_sqrt_batch_rank_independent_alpha_and_loraplus():
    s = shape_from_config(BUILTIN["qwen2.5-7b"], name="q")
    at128 = recommend_lr(s, "lora", 128)["lr"]
    at32 = recommend_lr(s, "lora", 32)["lr"]
    assert at32 == pytest.approx(at128 / 2, rel=0.05)  # sqrt(32/128) = 1/2
    assert recommend_lr(s, "lora", 32, rank=8)["lr"] == recommend_lr(s, "lora", 32, rank=128)["lr"]
    assert recommend_lr(s, "lora", 32, rank=16, alpha=64)["lr"] == pytest.approx(at32 / 2, rel=0.05)
    assert recommend_lr(s, "lora", 32, loraplus_ratio=16)["lr"] == pytest.approx(at32 * 16 ** -0.79, rel=0.05)  # measured
    assert recommend_lr(s, "full", 32)["lr"] == pytest.approx(at32 / 10, rel=0.05)


def test_small_data_reconciliation():
    s = shape_from_config(BUILTIN["smollm2-135m"], name="s")
    full_small = recommend_lr(s, "full", 128, num_examples=200)
    assert full_small["lr"] == 5e-5 and full_small["small_data"] == "practitioner"
    assert recommend_lr(s, "full", 128, num_examples=50_000)["small_data"] == "none"
    assert recommend_lr(s, "full", 128, num_examples=50_000)["lr"] > 5e-5


def test_short_run_rule_follows_horizon_batch_and_model():
    from tiaocan.planning.rules.learning_rate import MODEL_MULT, MULT, SEEN_MEASURED, horizon_factor

    s = shape_from_config(BUILTIN["smollm2-135m"], name="smollm2-135m")
    short, mid = (recommend_lr(s, "lora", 8, num_examples=200, seen=n)["lr"] for n in (200, 600))
    assert short > mid  # a longer run wants a lower lr (the suite: (seen / 1000)^-SEEN_EXP)
    # beyond the measured horizon it falls faster, and never below the long-run literature value (unknown horizon)
    long_ = recommend_lr(s, "lora", 8)["lr"]
    huge = recommend_lr(s, "lora", 8, num_examples=10**7, seen=3 * 10**7)["lr"]
    assert huge == long_ < recommend_lr(s, "lora", 8, num_examples=10**4, seen=3 * 10**4)["lr"] < mid
    assert horizon_factor(None) == 1.0 and horizon_factor(1000 * SEEN_MEASURED / 1000) < horizon_factor(200)
    far = horizon_factor(4 * SEEN_MEASURED) / horizon_factor(SEEN_MEASURED)
    assert far == pytest.approx(4 ** -0.28, rel=0.01)
    # the batch: its square root at a fixed horizon
    b32 = recommend_lr(s, "lora", 32, num_examples=200, seen=600)["lr"]
    assert b32 / mid == pytest.approx(2.0, rel=0.05)
    # a model the suite measured uses its own multiplier; one it did not, the mean
    g = shape_from_config(BUILTIN["smollm2-135m"], name="some-other-model")
    ratio = mid / recommend_lr(g, "lora", 8, num_examples=200, seen=600)["lr"]
    assert ratio == pytest.approx(MODEL_MULT["smollm2-135m"] / MULT, rel=0.05)
    # full fine-tuning was not calibrated on the suite: no short-run term, the small-data cap stays
    assert recommend_lr(s, "full", 16, num_examples=200, seen=200)["horizon_factor"] == 1.0


def test_lr_reason_and_user_override(facts):
    p = make_plan(QWEN7, facts, gpu="H100-80GB")
    r = recs(p)["learning_rate"]
    assert "sqrt(" in r.reason and "horizon" in r.reason and not r.overridden
    eff = p.steps.effective_batch
    assert r.value == pytest.approx(recommend_lr(p_shape(), "lora", eff, num_examples=450,
                                                 seen=450 * p.config["num_train_epochs"])["lr"])
    o = make_plan(QWEN7, facts, gpu="H100-80GB", overrides=["learning_rate=1e-4"])
    ro = recs(o)["learning_rate"]
    assert ro.overridden and ro.value == 1e-4 and o.config["learning_rate"] == 1e-4 and "suggest" in ro.reason


def test_lr_reason_says_when_the_horizon_is_extrapolated(facts):
    """Beyond the longest run the suite measured, the reason says the horizon term is extrapolated (en and zh)."""
    from tiaocan.planning.rules.learning_rate import SEEN_MEASURED

    short = recs(make_plan(QWEN7, facts, gpu="H100-80GB", overrides=["max_steps=5"]))["learning_rate"]
    steps = math.ceil(2 * SEEN_MEASURED / 8)
    long = make_plan(QWEN7, facts, gpu="H100-80GB", overrides=[f"max_steps={steps}", "effective_batch=8"])
    assert "horizon" in short.reason and "extrapolated" not in short.reason
    assert "extrapolated" in recs(long)["learning_rate"].reason
    zh = make_plan(QWEN7, facts, gpu="H100-80GB", overrides=[f"max_steps={steps}", "effective_batch=8"], lang="zh")
    assert "外推" in recs(zh)["learning_rate"].reason


def p_shape():
    return shape_from_config(BUILTIN["qwen2.5-7b"], name=QWEN7)


def test_changing_batch_rederives_lr_and_accumulation(facts):
    base = make_plan(QWEN7, facts, gpu="H100-80GB")
    big = make_plan(QWEN7, facts, gpu="H100-80GB", overrides=["effective_batch=64"])
    assert big.steps.effective_batch == 64
    ratio = big.config["learning_rate"] / base.config["learning_rate"]
    assert ratio == pytest.approx(math.sqrt(64 / base.steps.effective_batch), rel=0.05)
    mb = make_plan(QWEN7, facts, gpu="H100-80GB", overrides=["per_device_train_batch_size=1"])
    assert mb.config["per_device_train_batch_size"] == 1
    assert mb.config["gradient_accumulation_steps"] == base.steps.effective_batch  # re-derived
    assert mb.config["learning_rate"] == base.config["learning_rate"]  # same effective batch → same lr


def test_contradictory_overrides_name_the_flags(facts):
    with pytest.raises(UserError, match="effective_batch=32.*per_device_train_batch_size=4"):
        make_plan(QWEN7, facts, gpu="H100-80GB", overrides=["effective_batch=32", "per_device_train_batch_size=4",
                                                             "gradient_accumulation_steps=4"])
    with pytest.raises(UserError, match="--set lora_rank"):
        make_plan(QWEN7, facts, gpu="H100-80GB", method="full", overrides=["lora_rank=8"])
    with pytest.raises(UserError, match="--loraplus needs --method lora"):
        make_plan("smollm2-135m", facts, gpu="H100-80GB", method="full", loraplus=True)
    with pytest.raises(UserError, match="quantization_bit=4.*--method qlora"):
        make_plan(QWEN7, facts, gpu="H100-80GB", overrides=["quantization_bit=4"])
    with pytest.raises(UserError, match="--set cutoff_len=100000"):
        make_plan(QWEN7, facts, gpu="H100-80GB", overrides=["cutoff_len=100000"])
    with pytest.raises(UserError, match="--set lerning_rate"):
        make_plan(QWEN7, facts, gpu="H100-80GB", overrides=["lerning_rate=1e-4"])
    with pytest.raises(UserError, match="--set finetuning_type=full contradicts --method lora"):
        make_plan(QWEN7, facts, gpu="H100-80GB", overrides=["finetuning_type=full"])


# ---- epochs, band, batch
def test_epochs_scale_with_size_and_ceiling():
    values = [epochs_for(n, 0) for n in (20, 100, 300, 1000, 3000, 10_000, 100_000)]
    assert values == sorted(values, reverse=True)
    assert values[0] == 3 and values[3] == 3 and values[-1] == 1
    assert epochs_for(1000, 10_000_000) < epochs_for(1000, 0)  # long answers count as more data


def test_epochs_and_stop_in_plan(facts):
    r = recs(make_plan(QWEN7, facts, gpu="4090"))
    assert r["num_train_epochs"].value == epochs_for(450, 75_000)  # 500 examples, 50 held out
    # a held-out split: stop on held-out loss, keep the best checkpoint; the training-loss band is not set
    assert r["early_stopping_patience"].value == 3 and "stop_loss_band" not in r
    small = recs(make_plan(QWEN7, DataFacts(num_examples=60, mean_tokens=40, p99_tokens=60, max_tokens=64), gpu="4090"))
    assert small["stop_loss_band"].value == [0.7, 1.4] and "early_stopping_patience" not in small
    p = make_plan(QWEN7, facts, gpu="4090", overrides=["num_train_epochs=20"])
    assert p.config["num_train_epochs"] == 20 and any("ceiling" in n for n in p.notes)


def test_effective_batch_leaves_steps_and_caps():
    assert effective_batch_for(500, 4, lora=True) == 16  # 2000 / 100 = 20 → 16
    assert effective_batch_for(1_000_000, 1, lora=True) == CAP_LORA
    assert effective_batch_for(1_000_000, 1, lora=False) == CAP_FULL
    assert effective_batch_for(10, 10, lora=True) == 1
    for n, e in ((200, 8), (5000, 2), (40_000, 1)):
        b = effective_batch_for(n, e, lora=True)
        assert math.ceil(n / b) * e >= 100 or b == 1


# ---- cutoff, rank, alpha, loraplus, schedule, precision
def test_cutoff_sources(facts):
    assert recs(make_plan(QWEN7, facts))["cutoff_len"].value == 960
    no_rec = facts.model_copy(update=dict(recommended_cutoff_len=None))
    assert recs(make_plan(QWEN7, no_rec))["cutoff_len"].value == 960  # p99 900 → multiple of 64
    huge = facts.model_copy(update=dict(recommended_cutoff_len=50_000, p99_tokens=50_000, max_tokens=60_000))
    r = recs(make_plan("HuggingFaceTB/SmolLM2-135M", huge))["cutoff_len"]
    assert r.value == 8192 and "8192" in r.reason


def test_rank_grows_with_data_alpha_fixed(facts):
    s = p_shape()
    ranks = [rank_for_tokens(s, t) for t in (10_000, 10**8, 10**9, 10**11)]
    assert ranks == sorted(ranks) and ranks[0] == 16 and ranks[-1] == 256
    assert s.lora_params(ranks[1]) >= 0.7 * 10**8 > s.lora_params(ranks[1] // 2)
    r = recs(make_plan(QWEN7, facts))
    assert r["lora_alpha"].value == 32 and r["lora_target"].value == "all" and r["lora_dropout"].value == 0.0


def test_loraplus_on_ratio_16_and_lr_lowered(facts):
    """learning_rate (A's rate) is plain LoRA's x ratio^-LORAPLUS_EXP; both plans round to 2 digits (up to ~5 % each),
    far inside what another exponent would move (the geometric middle, ratio^-0.5, is x1.5 higher at ratio 4)."""
    from tiaocan.planning.rules.learning_rate import LORAPLUS_EXP

    plain = make_plan(QWEN7, facts, gpu="H100-80GB")
    plus = make_plan(QWEN7, facts, gpu="H100-80GB", loraplus=True)
    assert plus.config["loraplus_lr_ratio"] == 16
    assert plus.config["learning_rate"] == pytest.approx(plain.config["learning_rate"] * 16 ** -LORAPLUS_EXP, rel=0.1)
    assert "loraplus_lr_ratio" not in plain.config
    custom = make_plan(QWEN7, facts, gpu="H100-80GB", overrides=["loraplus_lr_ratio=4"])
    assert custom.config["loraplus_lr_ratio"] == 4
    assert custom.config["learning_rate"] == pytest.approx(plain.config["learning_rate"] * 4 ** -LORAPLUS_EXP, rel=0.1)


def test_schedule_warmup():
    assert warmup_ratio_for(1000) == 0.03 and warmup_ratio_for(50) == 0.1 and warmup_ratio_for(200) == 0.05
    assert all(0.03 <= warmup_ratio_for(n) <= 0.1 for n in (1, 10, 100, 10_000))


def test_precision_and_qlora(facts):
    v100 = make_plan(QWEN7, facts, gpu="V100-32GB")
    assert v100.config["fp16"] is True and not v100.config.get("bf16")
    q = make_plan(QWEN7, facts, gpu="4090", method="qlora")
    assert q.config["quantization_bit"] == 4 and q.config["finetuning_type"] == "lora"
    full = make_plan("smollm2-135m", facts, gpu="4090", method="full")
    assert full.config["finetuning_type"] == "full" and "lora_rank" not in full.config


def test_every_reason_renders_in_both_languages(facts):
    for lang in ("en", "zh"):
        for method in ("lora", "qlora", "full"):
            p = make_plan("smollm2-135m", facts, gpu="4090", method=method, lang=lang, loraplus=method != "full")
            assert all(r.reason and "{" not in r.reason for r in p.recommendations)
    zh = make_plan("smollm2-135m", facts, gpu="4090", lang="zh")
    assert any("学习率" in r.reason or "批次" in r.reason for r in zh.recommendations)


def test_small_dataset_fewer_than_batch():
    tiny = DataFacts(num_examples=12, mean_tokens=40, p99_tokens=60, max_tokens=64)
    p = make_plan("smollm2-135m", tiny, gpu="24GB")
    assert p.steps.effective_batch <= 12 and p.config["num_train_epochs"] == 3
    assert p.steps.total_steps >= 10


def test_eval_split_rule(facts):
    from tiaocan.planning.rules.eval_split import val_count_for

    assert [val_count_for(n) for n in (50, 99, 100, 500, 10_000)] == [0, 0, 10, 50, 500]
    p = make_plan(QWEN7, facts, gpu="H100-80GB")
    assert p.config["val_size"] == 50
    assert p.steps.steps_per_epoch == math.ceil(450 / p.steps.effective_batch)  # steps count training examples only
    small = make_plan(QWEN7, facts.model_copy(update=dict(num_examples=60)), gpu="H100-80GB")
    assert small.config["val_size"] == 0 and "below 100" in recs(small)["val_size"].reason
    ext = make_plan(QWEN7, facts, gpu="H100-80GB", overrides=["eval_dataset=test.jsonl"])
    assert "val_size" not in ext.config and ext.config["eval_dataset"] == "test.jsonl"


def test_gemma2_is_planned_with_eager_attention(facts):
    from tiaocan.planning.memory import MemoryInputs, estimate_memory

    p = make_plan("google/gemma-2-2b-it", facts, gpu="H100-80GB")
    shape = shape_from_config(BUILTIN["gemma-2-2b"], name="gemma-2-2b")
    assert shape.attn_softcap and shape.logit_softcap
    c = p.config
    mi = dict(method="lora", micro_batch=c["per_device_train_batch_size"], seq_len=c["cutoff_len"],
              lora_rank=c["lora_rank"], gradient_checkpointing=c["gradient_checkpointing"])
    assert p.memory.total == estimate_memory(shape, MemoryInputs(attention="eager", **mi)).total
    assert p.memory.total > estimate_memory(shape, MemoryInputs(attention="sdpa", **mi)).total


def test_plan_packs_padding_free_with_a_reason_in_both_languages(facts):
    for lang in ("en", "zh"):
        plan = make_plan(QWEN7, facts, gpu="H100-80GB", lang=lang)
        r = recs(plan)["packing"]
        assert r.value is True and plan.config["packing"] is True and r.reason
    assert "attention" in recs(make_plan(QWEN7, facts, gpu="H100-80GB", lang="en"))["packing"].reason
    off = make_plan(QWEN7, facts, gpu="H100-80GB", overrides=["packing=false"])
    assert off.config["packing"] is False and recs(off)["packing"].overridden
