"""Which LLaMA-Factory `template:` trains the token sequences tiaocan trains: chosen by rendering, not by name.

tiaocan renders every example with the model's own chat template (and measures lengths and plans `cutoff_len`
on that). An exported LLaMA-Factory config must make LLaMA-Factory produce the same text, so each entry below is
LLaMA-Factory's template (0.9.5, `llamafactory/data/template.py`) written out as text slots, rendered the way its
`Template._encode` / `Llama2Template._encode` do, and compared with the model's chat template on probe
conversations. `tests/test_lf_templates.py` renders each entry against a model's own template.

A template can differ from the model's only in its default system prompt (SmolLM2's model template says
"... trained by Hugging Face", LLaMA-Factory's smollm2 "... trained by Hugging Face."): LLaMA-Factory's
`default_system` key overrides it, so such a match is kept with the model's prompt as `default_system`.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable, Optional

CONTENT, BOS, EOS = "{{content}}", "{{bos_token}}", "{{eos_token}}"
_IM_USER = "<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n"
_IM_ASSISTANT = "{{content}}<|im_end|>\n"
_IM_SYSTEM = "<|im_start|>system\n{{content}}<|im_end|>\n"
_GEMMA_USER = "<start_of_turn>user\n{{content}}<end_of_turn>\n<start_of_turn>model\n"


@dataclass(frozen=True)
class LFTemplate:
    name: str
    user: str
    assistant: str
    system: str = CONTENT
    prefix: str = ""
    default_system: str = ""
    system_in_user: bool = False  # Llama2Template: the formatted system text opens the first user turn


# Order matters only for ties (same text, same default system): the more specific name first.
TEMPLATES = [
    LFTemplate("smollm2", _IM_USER, _IM_ASSISTANT, _IM_SYSTEM,
               default_system="You are a helpful AI assistant named SmolLM, trained by Hugging Face."),
    LFTemplate("qwen", _IM_USER, _IM_ASSISTANT, _IM_SYSTEM,
               default_system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant."),
    LFTemplate("chatml", _IM_USER, _IM_ASSISTANT, _IM_SYSTEM),
    LFTemplate("llama3", "<|start_header_id|>user<|end_header_id|>\n\n{{content}}<|eot_id|>"
               "<|start_header_id|>assistant<|end_header_id|>\n\n", "{{content}}<|eot_id|>",
               "<|start_header_id|>system<|end_header_id|>\n\n{{content}}<|eot_id|>", prefix=BOS),
    LFTemplate("gemma3", _GEMMA_USER, "{{content}}<end_of_turn>\n", "{{content}}\n\n", prefix=BOS, system_in_user=True),
    LFTemplate("gemma", _GEMMA_USER, "{{content}}<end_of_turn>\n", "{{content}}\n\n", prefix=BOS, system_in_user=True),
    LFTemplate("default", "Human: {{content}}{{eos_token}}\nAssistant:", "{{content}}{{eos_token}}\n",
               "System: {{content}}{{eos_token}}\n"),
]
# Probes: no system message (where default system prompts show) and one with a system message (its slot).
PROBES = [
    [{"role": "user", "content": "What time do you open?"}, {"role": "assistant", "content": "At 9am."},
     {"role": "user", "content": "And close?"}, {"role": "assistant", "content": "At 6pm."}],
    [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What time do you open?"},
     {"role": "assistant", "content": "At 9am."}],
]


def render(t: LFTemplate, messages: list[dict], bos: str = "", eos: str = "", default_system: str | None = None) -> str:
    """The text LLaMA-Factory encodes for `messages` (it encodes the same pieces one by one, so the tokens can
    split differently only at piece borders, which are special tokens in every template here)."""
    fill = lambda slot, content="": slot.replace(BOS, bos).replace(EOS, eos).replace(CONTENT, content)  # noqa: E731
    system = default_system if default_system is not None else t.default_system
    if messages and messages[0]["role"] == "system":
        system, messages = messages[0]["content"] or system, messages[1:]
    out = [fill(t.prefix)]
    system_text = fill(t.system, system) if system else ""
    for i, m in enumerate(messages):
        if m["role"] == "user":
            lead = system_text if i == 0 else ""
            out.append(fill(t.user, lead + m["content"]) if t.system_in_user else lead + fill(t.user, m["content"]))
        else:
            out.append(fill(t.assistant, m["content"]))
    return "".join(out)


@dataclass
class Match:
    name: str | None
    default_system: str | None = None  # set when the model's own default system prompt differs from the template's
    note: str = ""


def _model_default_system(t: LFTemplate, model_text: str, bos: str, eos: str) -> Optional[str]:
    """The default system prompt the model's template wrote into the no-system probe, read through t's system
    slot; '' when it wrote none."""
    plain = render(t, PROBES[0], bos, eos, default_system="")
    if model_text == plain:
        return ""
    head, _, tail = t.system.replace(BOS, bos).replace(EOS, eos).partition(CONTENT)
    start = t.prefix.replace(BOS, bos) + ("" if t.system_in_user else head)
    if t.system_in_user:
        start += t.user.replace(BOS, bos).partition(CONTENT)[0] + head
    if not model_text.startswith(start):
        return None
    end = model_text.find(tail, len(start)) if tail else -1
    return model_text[len(start):end] if end > len(start) else None


def match(render_model: Callable[[list[dict]], Optional[str]], bos: str = "", eos: str = "",
          hint: str | None = None) -> list[Match]:
    """Every entry whose rendering equals the model's on all probes, best first: exact before those needing
    `default_system`, then the default prompt nearest the model's, then `hint` (the architecture's usual name,
    which only separates entries that render the same text, as gemma / gemma3 do). `render_model` returns None
    for a probe the model's template refuses (Gemma's raises on a system message): that probe is skipped."""
    texts = [render_model(p) for p in PROBES]
    found: list[tuple[tuple, Match]] = []
    for order, t in enumerate(TEMPLATES):
        if texts[1] is not None and render(t, PROBES[1], bos, eos) != texts[1]:
            continue
        if texts[0] is None:
            continue
        if render(t, PROBES[0], bos, eos) == texts[0]:
            found.append(((0, 0.0, t.name != hint, order), Match(t.name)))
            continue
        own = _model_default_system(t, texts[0], bos, eos)
        if own is None or render(t, PROBES[0], bos, eos, default_system=own) != texts[0]:
            continue
        near = difflib.SequenceMatcher(None, own, t.default_system).ratio()
        found.append(((1, -near, t.name != hint, order), Match(t.name, own, f"the model's default system prompt differs from "
                                                         f"LLaMA-Factory's {t.name} template; exported as default_system")))
    return [m for _, m in sorted(found, key=lambda f: f[0])]


def choose(tokenizer, hint: str | None = None) -> Match:
    """The LLaMA-Factory template for a tokenizer's chat template (`hint`: see `match`)."""
    def render_model(messages):
        try:
            return tokenizer.apply_chat_template(messages, tokenize=False)
        except Exception:  # noqa: BLE001 — templates raise (jinja's raise_exception) on roles they refuse
            return None

    bos, eos = tokenizer.bos_token or "", tokenizer.eos_token or ""
    found = match(render_model, bos, eos, hint)
    if not found:
        return Match(None, note="no LLaMA-Factory template in tiaocan's table renders like this model's chat template; "
                                "`template` is left unset so LLaMA-Factory derives one from the tokenizer's chat "
                                "template — check its rendering before training")
    return found[0]
