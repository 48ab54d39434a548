"""Each LLaMA-Factory template in tiaocan's table renders exactly like a real model family's chat template, and
export picks it by that rendering (tiaocan.lf_templates)."""
from pathlib import Path

import pytest
from transformers.utils.chat_template_utils import render_jinja_template

from tiaocan import lf_templates
from tiaocan.models import GEMMA3_TEMPLATE

FIXTURES = Path(__file__).parent / "fixtures" / "chat_templates"
SMOLLM2_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


class Tok:
    """The part of a tokenizer the choice reads: its chat template (rendered by transformers) and bos/eos."""

    def __init__(self, chat_template: str, bos: str = "", eos: str = ""):
        self.chat_template, self.bos_token, self.eos_token = chat_template, bos, eos

    def apply_chat_template(self, messages, tokenize=False):
        return render_jinja_template(conversations=[messages], chat_template=self.chat_template,
                                     bos_token=self.bos_token, eos_token=self.eos_token)[0][0]


def family(name: str) -> Tok:
    if name == "gemma3":
        return Tok(GEMMA3_TEMPLATE, "<bos>", "<eos>")
    text = (FIXTURES / f"{name}.jinja").read_text(encoding="utf-8")
    bos_eos = {"llama3": ("<|begin_of_text|>", "<|eot_id|>"), "gemma2": ("<bos>", "<eos>")}
    return Tok(text, *bos_eos.get(name, ("", "<|im_end|>")))


# table entry → (model family whose template it must reproduce, tie-break hint, default_system export expects)
CASES = {
    "smollm2": ("smollm2", "chatml", SMOLLM2_SYSTEM),  # LF's prompt ends with "."; the model's does not
    "qwen": ("qwen2_5", "qwen", None),
    "chatml": ("chatml", "chatml", None),
    "llama3": ("llama3", "llama3", None),
    "gemma3": ("gemma3", "gemma3", None),
    "gemma": ("gemma2", "gemma", None),
}


def test_every_table_entry_is_checked():
    assert {t.name for t in lf_templates.TEMPLATES} - {"default"} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_entry_renders_like_its_model_family(name):
    fam, hint, default_system = CASES[name]
    tok = family(fam)
    m = lf_templates.choose(tok, hint)
    assert (m.name, m.default_system) == (name, default_system)
    # and the entry's own rendering (with the override) is the model's text on every probe it accepts
    t = next(t for t in lf_templates.TEMPLATES if t.name == name)
    for probe in lf_templates.PROBES:
        if name == "gemma" and probe[0]["role"] == "system":
            continue  # Gemma 1/2 refuse system messages
        ours = lf_templates.render(t, probe, tok.bos_token, tok.eos_token, default_system=default_system)
        assert ours == tok.apply_chat_template(probe)


def test_default_entry_renders_lf_default_format():
    t = next(t for t in lf_templates.TEMPLATES if t.name == "default")
    text = lf_templates.render(t, lf_templates.PROBES[1], eos="</s>")
    assert text == "System: Answer briefly.</s>\nHuman: What time do you open?</s>\nAssistant:At 9am.</s>\n"


def test_no_match_is_said():
    odd = Tok("{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}")
    m = lf_templates.choose(odd)
    assert m.name is None and "no LLaMA-Factory template" in m.note


def test_tiny_models_own_default_system(tiny_tokenizer):
    """The tests' tiny tokenizer says "You are helpful." by default: a ChatML entry with that default_system."""
    m = lf_templates.choose(tiny_tokenizer, "chatml")
    assert m.name in ("smollm2", "qwen", "chatml") and m.default_system == "You are helpful."
