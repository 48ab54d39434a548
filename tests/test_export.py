"""Export: LLaMA-Factory round trip keeps every value; Axolotl / HF files use those tools' key names."""
import dataclasses
import json

import pytest
import yaml

from tiaocan.config import TrainConfig, build_config, load_config
from tiaocan.errors import UserError
from tiaocan.exporting import TIAOCAN_ONLY, export_config, file_columns, to_axolotl, to_hf, to_llamafactory

SMOLLM2_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


@pytest.fixture(autouse=True)
def smollm2_tokenizer(monkeypatch):
    """Export renders the model's chat template: the unit tests give SmolLM2's own template without loading the
    embedded model (test_export_smollm2_real_tokenizer does, marked integration)."""
    import tiaocan.models
    from test_lf_templates import family

    real = tiaocan.models.load_tokenizer
    monkeypatch.setattr(tiaocan.models, "load_tokenizer",
                        lambda name, **kw: family("smollm2") if name.lower().startswith("smollm2") else real(name, **kw))

# Written in the style of LLaMA-Factory's examples/train_lora and train_qlora YAMLs.
LF_LORA = """\
### model
model_name_or_path: meta-llama/Meta-Llama-3-8B-Instruct
trust_remote_code: true
### method
stage: sft
do_train: true
finetuning_type: lora
lora_rank: 8
lora_target: all
### dataset
dataset: identity,alpaca_en_demo
template: llama3
cutoff_len: 2048
max_samples: 1000
overwrite_cache: true
preprocessing_num_workers: 16
dataloader_num_workers: 4
### output
output_dir: saves/llama3-8b/lora/sft
logging_steps: 10
save_steps: 500
plot_loss: true
overwrite_output_dir: true
save_only_model: false
report_to: none
### train
per_device_train_batch_size: 1
gradient_accumulation_steps: 8
learning_rate: 1.0e-4
num_train_epochs: 3.0
lr_scheduler_type: cosine
warmup_ratio: 0.1
bf16: true
ddp_timeout: 180000000
resume_from_checkpoint: null
"""
LF_QLORA_PLUS = """\
model_name_or_path: Qwen/Qwen2.5-7B-Instruct
quantization_bit: 4
stage: sft
do_train: true
finetuning_type: lora
lora_rank: 16
lora_alpha: 32
lora_dropout: 0.05
lora_target: q_proj,v_proj
loraplus_lr_ratio: 16.0
dataset: my_support_data
dataset_dir: data
template: qwen
cutoff_len: 1024
val_size: 0.1
eval_strategy: steps
eval_steps: 50
per_device_eval_batch_size: 1
output_dir: saves/qwen/qlora
per_device_train_batch_size: 2
gradient_accumulation_steps: 4
learning_rate: 5.0e-5
num_train_epochs: 5.0
lr_scheduler_type: cosine
warmup_ratio: 0.03
weight_decay: 0.01
disable_gradient_checkpointing: false
"""


@pytest.mark.parametrize("text", [LF_LORA, LF_QLORA_PLUS])
def test_llamafactory_round_trip_keeps_every_value(text, tmp_path):
    src = tmp_path / "lf.yaml"
    src.write_text(text)
    original = yaml.safe_load(text)
    cfg = load_config(src)
    res = export_config(cfg, "llamafactory", tmp_path / "out")
    back = yaml.safe_load(open(res.files[0]))
    for key, value in original.items():
        if value is not None:  # `key: null` means "unset" in LLaMA-Factory too
            assert back[key] == value, key
    assert not set(back) & set(TIAOCAN_ONLY)
    # and back into tiaocan once more: same config
    again = load_config(res.files[0])
    assert again.model_dump() == cfg.model_dump()


def test_llamafactory_from_plan_writes_dataset_info(tmp_path):
    data = tmp_path / "support.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}) + "\n")
    cfg = build_config(dict(model_name_or_path="smollm2-135m", dataset=str(data), cutoff_len=256, lora_rank=16,
                            lora_alpha=32, learning_rate=4e-4, stop_loss_band=[0.7, 1.4], gradient_checkpointing=False,
                            truncation="keep_response"))
    lf, info, dropped = to_llamafactory(cfg, tmp_path)
    assert lf["model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert lf["dataset"] == "support" and lf["dataset_dir"] == str(tmp_path)
    assert info["support"]["formatting"] == "sharegpt" and info["support"]["tags"]["role_tag"] == "role"
    assert lf["disable_gradient_checkpointing"] is True
    # LLaMA-Factory's smollm2 template with the model's own default system prompt (its own ends with ".")
    assert lf["template"] == "smollm2" and lf["default_system"] == SMOLLM2_SYSTEM
    assert {"stop_loss_band", "truncation"} <= set(dropped) and "gradient_checkpointing" not in dropped
    assert lf["output_dir"] == cfg.output_dir
    res = export_config(cfg, "llamafactory", tmp_path / "o")
    assert "# dropped stop_loss_band" in open(res.files[0]).read()
    assert json.load(open(res.files[1]))["support"]["file_name"] == str(data.resolve())


def test_llamafactory_keys_are_its_own():
    """Every exported key is a LLaMA-Factory argument: TrainConfig's LF-named fields, HF training args, or LF extras."""
    from transformers import Seq2SeqTrainingArguments

    lf_only = {"model_name_or_path", "trust_remote_code", "dataset", "dataset_dir", "eval_dataset", "template",
               "cutoff_len", "max_samples", "val_size", "train_on_prompt", "stage", "finetuning_type",
               "quantization_bit", "lora_rank", "lora_alpha", "lora_dropout", "lora_target", "loraplus_lr_ratio",
               "loraplus_lr_embedding", "use_rslora", "use_dora", "packing", "plot_loss",
               "disable_gradient_checkpointing", "default_system",
               # transformers 4.x TrainingArguments fields (LLaMA-Factory pins transformers 4.x) removed in 5.x
               "warmup_ratio", "overwrite_output_dir"}
    hf = {f.name for f in dataclasses.fields(Seq2SeqTrainingArguments)} | {"do_train"}
    cfg = TrainConfig(**{k: v for k, v in TrainConfig().model_dump().items()})  # every field set
    lf, _, _ = to_llamafactory(cfg)
    unknown = set(lf) - lf_only - hf
    assert not unknown, unknown


def test_axolotl_keys():
    cfg = build_config(dict(model_name_or_path="Qwen/Qwen2.5-7B-Instruct", dataset="d.jsonl", formatting="openai",
                            quantization_bit=4, lora_rank=16, lora_alpha=32, loraplus_lr_ratio=16,
                            learning_rate=2e-4, num_train_epochs=3, per_device_train_batch_size=2,
                            gradient_accumulation_steps=8, cutoff_len=1024, gradient_checkpointing=True, bf16=True))
    a = to_axolotl(cfg)
    assert a["base_model"] == "Qwen/Qwen2.5-7B-Instruct" and a["adapter"] == "qlora" and a["load_in_4bit"] is True
    assert (a["lora_r"], a["lora_alpha"], a["micro_batch_size"], a["gradient_accumulation_steps"]) == (16, 32, 2, 8)
    assert a["sequence_len"] == 1024 and a["num_epochs"] == 3 and a["lr_scheduler"] == "cosine"
    assert a["lora_target_linear"] is True and a["loraplus_lr_ratio"] == 16
    assert a["datasets"][0]["type"] == "chat_template" and a["datasets"][0]["field_messages"] == "messages"
    assert a["datasets"][0]["ds_type"] == "json"
    alpaca = to_axolotl(build_config(dict(dataset="x.json", formatting="alpaca", lora_target="q_proj,v_proj")))
    assert alpaca["datasets"][0]["type"] == "alpaca" and alpaca["lora_target_modules"] == ["q_proj", "v_proj"]


def test_hf_training_arguments_and_lora_config_construct(tmp_path):
    from peft import LoraConfig
    from transformers import TrainingArguments

    cfg = build_config(dict(learning_rate=3e-4, warmup_ratio=0.05, per_device_train_batch_size=2,
                            gradient_accumulation_steps=4, lora_rank=8, output_dir=str(tmp_path / "r")))
    res = export_config(cfg, "hf", tmp_path)
    args = json.load(open(res.files[0]))
    ta = TrainingArguments(**args)  # every key is a real TrainingArguments field with a valid value
    assert ta.learning_rate == 3e-4 and ta.gradient_accumulation_steps == 4
    assert ta.get_warmup_steps(100) == 5  # transformers 5: warmup_steps < 1 is a ratio
    lora = LoraConfig(**json.load(open(res.files[1])))
    assert lora.r == 8 and lora.lora_alpha == 16
    full_args, none, _ = to_hf(build_config(dict(finetuning_type="full")))
    assert none is None and "learning_rate" in full_args


def test_bad_target_and_missing_file(tmp_path):
    with pytest.raises(UserError, match="--to"):
        export_config(TrainConfig(), "deepspeed", tmp_path)
    with pytest.raises(UserError, match="not found"):
        export_config(tmp_path / "missing.yaml", "hf", tmp_path)


def test_cli_export(tmp_path):
    from typer.testing import CliRunner

    from tiaocan.cli import app

    src = tmp_path / "lf.yaml"
    src.write_text(LF_LORA)
    r = CliRunner().invoke(app, ["export", str(src), "--to", "axolotl", "-o", str(tmp_path / "ax")])
    assert r.exit_code == 0, r.output
    assert yaml.safe_load((tmp_path / "ax" / "axolotl.yaml").read_text())["base_model"] == "meta-llama/Meta-Llama-3-8B-Instruct"


def test_packing_is_llamafactorys_neat_packing_both_ways():
    """tiaocan packs without cross-attention: exported as neat_packing, and an LF neat_packing YAML packs here."""
    lf, _, _ = to_llamafactory(build_config({"model_name_or_path": "m", "packing": True}))
    assert lf["packing"] is True and lf["neat_packing"] is True
    assert "neat_packing" not in to_llamafactory(build_config({"model_name_or_path": "m"}))[0]
    assert build_config({"model_name_or_path": "m", "neat_packing": True, "packing": True}).packing is True


def _lf_columns_exist(info: dict, data) -> None:
    """What LLaMA-Factory's converters index: every mapped column must be one the file has."""
    (entry,) = info.values()
    assert set(entry["columns"].values()) <= file_columns(data), (entry["columns"], file_columns(data))


@pytest.mark.parametrize("records, expected", [
    ([{"instruction": "q", "output": "a"}], {"prompt": "instruction", "response": "output"}),
    ([{"instruction": "q", "input": "x", "output": "a"}, {"instruction": "q", "output": "a", "system": "s"}],
     {"prompt": "instruction", "query": "input", "response": "output", "system": "system"}),
    ([{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}],
     {"messages": "conversations"}),
    ([{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "system": "s"}],
     {"messages": "messages", "system": "system"}),
])
def test_dataset_info_maps_only_columns_the_file_has(tmp_path, records, expected):
    """An alpaca file without a system column used to export "system": "system" (LLaMA-Factory: KeyError)."""
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    _, info, _ = to_llamafactory(build_config({"model_name_or_path": "smollm2-135m", "dataset": str(data)}), tmp_path)
    assert info["d"]["columns"] == expected
    _lf_columns_exist(info, data)


def test_export_notes_a_template_it_could_not_check(tmp_path):
    res = export_config(build_config({"model_name_or_path": "no-such-model"}), "llamafactory", tmp_path)
    assert any("not checked by rendering" in n for n in res.notes)
    assert "# note: template" in open(res.files[0]).read()


@pytest.mark.integration
def test_export_smollm2_real_tokenizer(tmp_path, monkeypatch):
    import tiaocan.models

    monkeypatch.undo()  # the embedded model's real tokenizer
    tiaocan.models.load_tokenizer.cache_clear()
    lf, _, _ = to_llamafactory(build_config({"model_name_or_path": "smollm2-135m"}))
    assert lf["template"] == "smollm2" and lf["default_system"] == SMOLLM2_SYSTEM
