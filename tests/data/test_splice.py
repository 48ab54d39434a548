"""The splice fast path: the same ids and spans as encoding the whole text, and the fallbacks where it would not be."""
import copy
import random

import numpy as np
import pytest

from tiaocan.data import IGNORE, render as R
from tiaocan.data.splice import _safe_separators
from tiaocan.data.truncate import plan_window, plan_windows
from tiny_model import CHATML

U, A, S = "user", "assistant", "system"


def _m(*pairs):
    return [{"role": r, "content": c} for r, c in pairs]


CONVS = [
    _m((U, "Where is the shop?"), (A, "At 12 Harbour Road.")),
    _m((S, "Be brief."), (U, "Hours?"), (A, "9am to 6pm."), (U, "Returns?"), (A, "Within 30 days.")),
    _m((U, "Say hi"), (A, "hi")),                                   # the answer also occurs in the prompt
    _m((U, " leading space"), (A, "  two spaces first")),
    _m((U, "newlines\n\n"), (A, "\nnewline first\n")),
    _m((U, "商店在哪里？"), (A, "在海港路12号。")),
    _m((U, "q"), (A, "")),                                          # empty answer
    _m((U, "text with <|im_end|> inside"), (A, "and <|im_start|> here")),
]


def _chat_ids(tok, msgs):
    out = tok.apply_chat_template(msgs, tokenize=True)
    return list(out["input_ids"] if hasattr(out, "keys") else out)


def _whole(tok, convs):
    info = R.template_info(tok)
    return R._encode_whole(tok, info, convs, R._render(info.template, dict(info.kwargs), convs))


def _variant(tok, template=None):
    t = copy.deepcopy(tok)
    if template:
        t.chat_template = template
    return t


def test_fast_path_is_used_and_matches_the_whole_text(tiny_tokenizer):
    info = R.template_info(tiny_tokenizer)
    splicer = R._splicer(tiny_tokenizer, info)
    assert splicer is not None
    fast = splicer.encode(CONVS, R._render(info.template, dict(info.kwargs), CONVS), with_ids=True)
    assert all(f is not None for f in fast)
    for (ids, n, spans), whole, msgs in zip(fast, _whole(tiny_tokenizer, CONVS), CONVS):
        assert ids == whole["input_ids"] == _chat_ids(tiny_tokenizer, msgs)
        assert n == len(ids) and spans == whole["spans"]
    counts = splicer.encode(CONVS, R._render(info.template, dict(info.kwargs), CONVS), with_ids=False)
    assert [(c[1], c[2]) for c in counts] == [(f[1], f[2]) for f in fast]


def test_answer_that_also_occurs_in_the_prompt_is_found_in_its_own_turn(tiny_tokenizer):
    msgs = _m((U, "Say hi"), (A, "hi"))
    for r in (R.tokenize_conversations(tiny_tokenizer, [msgs])[0], _whole(tiny_tokenizer, [msgs])[0]):
        labels = r.get("labels") or R._with_labels(r, False)["labels"]
        trained = [i for i, lab in enumerate(labels) if lab != IGNORE]
        assert tiny_tokenizer.decode([r["input_ids"][i] for i in trained]) == "hi<|im_end|>"
        assert trained[-1] == len(r["input_ids"]) - 2  # the answer's own turn, before the final newline


def test_template_that_rewrites_a_message_falls_back_for_that_example(tiny_tokenizer):
    tok = _variant(tiny_tokenizer, CHATML.replace("message['content']", "(message['content'] | trim)"))
    info = R.template_info(tok)
    convs = [_m((U, "clean"), (A, "answer")), _m((U, "  padded  "), (A, "answer"))]
    fast = R._splicer(tok, info).encode(convs, R._render(info.template, dict(info.kwargs), convs), with_ids=True)
    assert fast[0] is not None and fast[1] is None
    for r, msgs in zip(R.tokenize_conversations(tok, convs), convs):
        assert r["input_ids"] == _chat_ids(tok, msgs)


def test_tokenizer_that_treats_a_text_start_specially_takes_the_whole_path(tiny_tokenizer):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from tiny_model import CORPUS

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")  # "▁" only before a text's first word
    tk.decoder = decoders.Metaspace(prepend_scheme="first")
    tk.train_from_iterator(CORPUS * 20, trainer=trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], show_progress=False))
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.chat_template = CHATML
    assert R._splicer(tok, R.template_info(tok)) is None
    for r, msgs in zip(R.tokenize_conversations(tok, CONVS[:3]), CONVS[:3]):
        assert r["input_ids"] == _chat_ids(tok, msgs)


def test_separators_exclude_stripping_and_overlapping_added_tokens(tiny_tokenizer):
    from tokenizers import AddedToken

    assert {"<|im_start|>", "<|im_end|>"} <= set(_safe_separators(tiny_tokenizer._tokenizer))
    tok = _variant(tiny_tokenizer)
    # "d<|im_" matches across the start of "<|im_end|>" in "...d<|im_end|>", so that is no safe cut anymore
    tok._tokenizer.add_special_tokens([AddedToken("d<|im_", normalized=False), AddedToken("<x>", lstrip=True)])
    safe = _safe_separators(tok._tokenizer)
    assert "<|im_end|>" not in safe and "<|im_start|>" not in safe and "<x>" not in safe
    msgs = _m((U, "What is d"), (A, "a letter"))
    assert R.tokenize_conversations(tok, [msgs])[0]["input_ids"] == _chat_ids(tok, msgs)


def test_truncation_left_on_the_backend_disables_the_fast_path(tiny_tokenizer):
    tok = _variant(tiny_tokenizer)
    tok._tokenizer.enable_truncation(max_length=8)
    assert R._splicer(tok, R.template_info(tok)) is None


def test_plan_windows_equals_plan_window():
    rng = random.Random(0)
    for _ in range(100):
        examples = []
        for _ in range(30):
            n = rng.randint(0, 300)
            cuts = sorted(rng.randint(0, n) for _ in range(2 * rng.randint(0, 4)))
            examples.append((n, list(zip(cuts[::2], cuts[1::2]))))
        cutoff = rng.choice([1, 16, 64, 100, 250, 400])
        offsets = np.cumsum([0] + [len(sp) for _, sp in examples])
        starts = [s for _, sp in examples for s, _ in sp]
        ends = [e for _, sp in examples for _, e in sp]
        for policy in ("keep_response", "drop", "cut_end"):
            got = plan_windows([n for n, _ in examples], offsets, starts, ends, cutoff, policy)
            for i, (n, spans) in enumerate(examples):
                w = plan_window(n, spans, cutoff, policy)
                assert [int(got[k][i]) for k in ("start", "end", "dropped", "answer_cut", "response_lost",
                                                  "answers_lost", "truncated")] == \
                       [w.start, w.end, w.dropped, w.answer_cut, w.response_lost, w.answers_lost, w.truncated]
    with pytest.raises(ValueError):
        plan_windows([5], [0, 0], [], [], 4, "nope")


@pytest.mark.integration
def test_fast_path_on_the_real_smollm2_tokenizer(smollm2_dir):
    from tiaocan.models import load_tokenizer

    tok = load_tokenizer("smollm2-135m")
    rng = random.Random(1)
    words = "order ship 退货 价格 it's  x\n\n 12 ... <tag>".split(" ")
    convs = []
    for _ in range(300):
        turns = rng.choice([1, 1, 2])
        msgs = _m((S, "Be kind.")) if rng.random() < 0.3 else []
        for _ in range(turns):
            msgs += _m((U, " ".join(rng.choices(words, k=rng.randint(0, 12)))),
                       (A, rng.choice(["", " "]) + " ".join(rng.choices(words, k=rng.randint(0, 20)))))
        convs.append(msgs)
    info = R.template_info(tok)
    assert R._splicer(tok, info) is not None
    fast = R.tokenize_conversations(tok, convs)
    for f, w, msgs in zip(fast, _whole(tok, convs), convs):
        assert f["input_ids"] == w["input_ids"] == _chat_ids(tok, msgs)
        assert f["spans"] == w["spans"]


def test_cached_sandbox_verdicts_still_block_unsafe_attributes():
    """render's compiled template remembers the sandbox's verdicts per (type, attribute): unsafe stays unsafe."""
    import jinja2.exceptions

    from tiaocan.data.render import _compiled

    t = _compiled("{% for m in messages %}{{ m.content }}{{ m.items.__self__.__class__ }}{% endfor %}")
    for _ in range(2):  # the second render answers from the cache: the private attribute stays undefined
        assert t.render(messages=[{"role": "user", "content": "x"}]) == "x"
    t2 = _compiled("{{ messages.append(1) }}")  # the immutable sandbox refuses mutating a list
    for _ in range(2):
        with pytest.raises(jinja2.exceptions.SecurityError):
            t2.render(messages=[])
