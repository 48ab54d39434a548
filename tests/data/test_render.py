"""Rendering: labels mask exactly the prompt tokens; truncation policies; same ids as apply_chat_template."""
import pytest

from tiaocan.data import IGNORE, plan_window, render_messages

SINGLE = [{"role": "user", "content": "Where is the shop?"}, {"role": "assistant", "content": "At 12 Harbour Road."}]
MULTI = [{"role": "system", "content": "Be brief."},
         {"role": "user", "content": "Hours?"}, {"role": "assistant", "content": "9am to 6pm."},
         {"role": "user", "content": "Returns?"}, {"role": "assistant", "content": "Within 30 days."}]


def _ids(tok, msgs):
    out = tok.apply_chat_template(msgs, tokenize=True)
    return list(out["input_ids"] if hasattr(out, "keys") else out)


@pytest.mark.parametrize("msgs", [SINGLE, MULTI])
def test_ids_match_chat_template_and_labels_mask_prompt(tiny_tokenizer, msgs):
    r = render_messages(msgs, tiny_tokenizer)
    assert r["input_ids"] == _ids(tiny_tokenizer, msgs)
    trained = tiny_tokenizer.decode([i for i, lab in zip(r["input_ids"], r["labels"]) if lab != IGNORE])
    answers = [m["content"] for m in msgs if m["role"] == "assistant"]
    assert trained == "".join(a + "<|im_end|>" for a in answers)
    # every label is either masked or equal to its input id
    assert all(lab in (IGNORE, i) for i, lab in zip(r["input_ids"], r["labels"]))
    assert r["n_turns"] == len(answers)


def test_prompt_tokens_are_exactly_the_masked_ones(tiny_tokenizer):
    r = render_messages(MULTI, tiny_tokenizer)
    prompt_only = tiny_tokenizer.apply_chat_template(MULTI[:2], tokenize=True, add_generation_prompt=True)
    prompt_only = list(prompt_only["input_ids"] if hasattr(prompt_only, "keys") else prompt_only)
    assert all(lab == IGNORE for lab in r["labels"][: len(prompt_only)])
    assert r["labels"][len(prompt_only)] != IGNORE


def test_train_on_prompt_keeps_all_labels(tiny_tokenizer):
    r = render_messages(SINGLE, tiny_tokenizer, train_on_prompt=True)
    assert r["labels"] == r["input_ids"]


def test_keep_response_trims_prompt_from_the_left(tiny_tokenizer):
    full = render_messages(MULTI, tiny_tokenizer)
    last = full["spans"][-1]
    cutoff = full["n_tokens"] - last[0] + 2  # room for the last answer and two prompt tokens
    r = render_messages(MULTI, tiny_tokenizer, cutoff_len=cutoff)
    assert len(r["input_ids"]) == cutoff
    assert r["input_ids"] == full["input_ids"][-cutoff:]
    assert not r["answer_cut"] and r["truncated"]


def test_cut_end_loses_the_end_of_turn(tiny_tokenizer):
    full = render_messages(SINGLE, tiny_tokenizer)
    r = render_messages(SINGLE, tiny_tokenizer, cutoff_len=full["n_tokens"] - 3, truncation="cut_end")
    assert r["answer_cut"] and r["response_lost"] >= 2
    assert r["input_ids"] == full["input_ids"][: full["n_tokens"] - 3]


def test_drop_policy_marks_dropped(tiny_tokenizer):
    r = render_messages(SINGLE, tiny_tokenizer, cutoff_len=8, truncation="drop")
    assert r["dropped"] and r["input_ids"] == []


def test_plan_window_answer_longer_than_cutoff_keeps_context():
    w = plan_window(200, [(40, 200)], 100, "keep_response")
    assert w.start == 15 and w.end == 115 and w.answer_cut and w.response_lost == 85
    assert plan_window(50, [(10, 50)], 100, "cut_end") == plan_window(50, [(10, 50)], 100, "drop")
    with pytest.raises(ValueError):
        plan_window(200, [(0, 10)], 100, "nope")
