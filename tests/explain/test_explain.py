import re

import pytest
from typer.testing import CliRunner

from tiaocan.errors import UserError
from tiaocan.config import key_help
from tiaocan.explanation import SECTIONS, all_params, explain, params, reason, resolve_lang, texts


def test_every_param_has_all_sections_in_both_languages():
    en, zh = texts("en"), texts("zh")
    assert set(en) == set(zh) - {"evidence_rules"}  # rules into Chinese: English evidence is the findings' own
    for p in params():
        for sec in ("title", *SECTIONS):
            assert en[p][sec].strip() and zh[p][sec].strip(), (p, sec)
        assert re.search(r"[\u4e00-\u9fff]", zh[p]["meaning"]), p  # really Chinese, not a copy
        assert en[p]["meaning"] != zh[p]["meaning"]


def test_reason_templates_match_across_languages():
    en, zh = texts("en"), texts("zh")
    fields = lambda t: sorted(set(re.findall(r"{(\w+)", t)))  # noqa: E731
    for p in en:
        assert set(en[p].get("reasons", {})) == set(zh[p].get("reasons", {})), p
        for k, t in en[p].get("reasons", {}).items():
            assert fields(t) == fields(zh[p]["reasons"][k]), (p, k)


def test_plan_parameters_are_all_explained():
    # every key the advisor can emit has an explanation (one source for plan reasons and explain)
    plan_keys = {"learning_rate", "num_train_epochs", "cutoff_len", "per_device_train_batch_size",
                 "gradient_accumulation_steps", "loraplus_lr_ratio", "lora_rank", "lora_alpha", "lora_target",
                 "lora_dropout", "lr_scheduler_type", "warmup_ratio", "gradient_checkpointing", "stop_loss_band",
                 "effective_batch", "finetuning_type", "quantization_bit", "bf16", "fp16", "val_size", "packing",
                 "early_stopping_patience"}
    assert plan_keys <= set(params())


def test_plan_written_keys_have_full_entries(tmp_path, tiny_model_dir):
    """The keys a real plan writes into its config all have a full entry in both languages."""
    import json

    from tiaocan.planning import make_plan

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"instruction": f"q{i}", "output": f"answer {i}"}) + "\n" for i in range(40)))
    cfg = make_plan(str(tiny_model_dir), str(data), method="lora").config
    written = set(cfg) - {"model_name_or_path", "dataset", "output_dir", "eval_steps", "save_steps", "logging_steps",
                          "per_device_eval_batch_size", "dataset_dir", "formatting", "truncation", "seed"}
    assert written - set(params()) == set(), written - set(params())


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_explain_covers_every_config_key(lang):
    """Every TrainConfig key is explained: a full entry, or its field description (the `train --help` text)."""
    keys = [k for k, _, _ in key_help()]
    assert set(keys) <= set(all_params())
    by = {e.param: e for e in explain(None, lang)}
    for k, _, desc in key_help():
        assert by[k].meaning and (k in params() or by[k].meaning.startswith(desc)), k


def test_train_help_lists_every_key_with_its_description():
    from tiaocan.cli import app

    r = CliRunner().invoke(app, ["train", "--help"], terminal_width=400)
    flat = " ".join(r.output.split())
    assert r.exit_code == 0
    for k, _, desc in key_help():
        assert k in flat and " ".join(desc.split()) in flat, k


def test_reason_renders_and_falls_back():
    assert "4.8e-04" in reason("learning_rate", "suggested", "en", lr=4.8e-4)
    assert "建议" in reason("learning_rate", "suggested", "zh", lr=4.8e-4)
    with pytest.raises(KeyError):
        reason("learning_rate", "no_such_reason", "en")


@pytest.mark.parametrize("env,expected", [({"LANG": "zh_CN.UTF-8"}, "zh"), ({"LANG": "en_US.UTF-8"}, "en"),
                                          ({"LC_ALL": "zh_TW.UTF-8", "LANG": "en_US"}, "zh")])
def test_language_from_locale(monkeypatch, env, expected):
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert resolve_lang(None) == expected
    assert resolve_lang("en") == "en" and resolve_lang("zh-CN") == "zh"


def test_unknown_param_and_lang():
    with pytest.raises(UserError, match="learning_rate"):
        explain("learning_rat")
    with pytest.raises(UserError, match="--lang"):
        explain("cutoff_len", "fr")


def test_cli_explain(tmp_path):
    from tiaocan.cli import app

    r = CliRunner().invoke(app, ["explain", "cutoff_len", "--lang", "zh", "--json", str(tmp_path / "e.json")])
    assert r.exit_code == 0 and "截断长度" in r.output and "设错的迹象" in r.output
    r = CliRunner().invoke(app, ["explain", "--lang", "en"])
    assert r.exit_code == 0 and all(texts("en")[p]["title"] in r.output for p in ("learning_rate", "lora_rank"))
