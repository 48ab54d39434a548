"""Helpers for the eval tests: paths of the bundled support set, a fake `tiaocan train` run dir."""
import json
from pathlib import Path

SUPPORT = Path(__file__).resolve().parents[2] / "src/tiaocan/examples/support"


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def make_run_dir(path: Path, base_dir: Path, dataset: str, random_adapter: bool = True) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from tiaocan.config import build_config, save_config

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(str(base_dir))
    # init_lora_weights=False: B is random, so the adapted model really differs from the base.
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM",
                     init_lora_weights=not random_adapter)
    get_peft_model(base, cfg).save_pretrained(str(path))
    save_config(build_config({"model_name_or_path": str(base_dir), "dataset": dataset, "cutoff_len": 256,
                              "output_dir": str(path)}), path / "tiaocan_config.yaml")
    return path


