"""Messages → input_ids + labels with the tokenizer's own chat template; one function for inspect and train.

How: render each conversation once with the chat template; an answer's span is the answer plus the
template's end-of-turn text (so the model learns to stop). Fast path (splice.py): encode only the pieces
between the template's special tokens that hold a message and reuse the scaffold's ids, where that is
provably the same as encoding the whole text. Otherwise: tokenize the whole batch of texts in one call and
map the answers' character spans to tokens via the offsets. (Per-example prompt/full tokenization, what
people usually script, is several times slower.)
Prompt tokens get label -100 (unless train_on_prompt). Truncation is `truncate.plan_window`.
"""
from __future__ import annotations

from bisect import bisect_left
from operator import itemgetter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..errors import UserError
from .truncate import plan_window

IGNORE = -100
_first = itemgetter(0)
_PROBE_U, _PROBE_A = "tiaocan-probe-user-7b1", "tiaocan-probe-answer-3f9"


@dataclass(frozen=True)
class TemplateInfo:
    template: str
    kwargs: tuple[tuple[str, str], ...]
    answer_suffix: str  # what the template writes right after an answer (e.g. "<|im_end|>")


@lru_cache(maxsize=16)
def _compiled(template: str):
    """Our own copy of transformers' compiled template (same sandboxed environment, filters and globals), whose
    sandbox remembers its attribute verdicts per (type, attribute name).

    jinja's sandbox checks every `message.content`-style access (a third of our rendering time on short examples).
    For jinja's own sandboxes that verdict depends only on the object's type and the attribute name
    (`is_internal_attribute` and `modifies_known_mutable` test isinstance against fixed types), so remembering
    it per (type, name) keeps every check's answer and therefore the sandbox's protection.
    """
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment
    from transformers.utils.chat_template_utils import _compile_jinja_template

    compile_fresh = getattr(_compile_jinja_template, "__wrapped__", None)  # not transformers' shared cached object
    if compile_fresh is None:
        return _compile_jinja_template(template)
    compiled = compile_fresh(template)
    env = compiled.environment
    if type(env) in (ImmutableSandboxedEnvironment, SandboxedEnvironment):
        check, verdicts = env.is_safe_attribute, {}

        def is_safe_attribute(obj, attr, value):
            key = (type(obj), attr)
            ok = verdicts.get(key)
            if ok is None:
                ok = verdicts[key] = check(obj, attr, value)
            return ok

        env.is_safe_attribute = is_safe_attribute
    return compiled


def _render(template: str, kwargs: dict[str, Any], convs: list[list[dict]], add_generation_prompt=False) -> list[str]:
    """Render with transformers' compiled (cached) jinja template, the same one apply_chat_template uses.

    We call the compiled template directly: render_jinja_template deep-copies every message first,
    which costs more than the rendering itself on large datasets. And we do what jinja's Template.render
    does, minus flattening the template's globals (a ChainMap) again for every conversation: half the
    rendering time, the same text.
    """
    compiled = _compiled(template)
    env = compiled.environment
    base = dict(compiled.globals)
    base.update(tools=None, documents=None, add_generation_prompt=add_generation_prompt, **kwargs)
    context, root, concat = env.context_class, compiled.root_render_func, env.concat
    out = []
    for c in convs:
        variables = dict(base)
        variables["messages"] = c
        try:
            out.append(concat(root(context(env, variables, compiled.name, compiled.blocks, globals=compiled.globals))))
        except Exception:
            env.handle_exception()  # what Template.render does: the template's own error, e.g. raise_exception
    return out


@lru_cache(maxsize=16)
def _template_info_cached(template: str, kwargs: tuple) -> TemplateInfo:
    text = _render(template, dict(kwargs), [[{"role": "user", "content": _PROBE_U},
                                              {"role": "assistant", "content": _PROBE_A}]])[0]
    pos = text.find(_PROBE_A)
    if pos < 0:
        raise UserError("the tokenizer's chat template does not write the assistant's text verbatim; "
                        "tiaocan cannot find answers in it (use a model with a standard chat template)")
    return TemplateInfo(template, kwargs, text[pos + len(_PROBE_A):].rstrip())


def template_info(tokenizer) -> TemplateInfo:
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        raise UserError("the tokenizer has no chat_template; use an instruct/chat model")
    kwargs = tuple(sorted((k, v) for k, v in tokenizer.special_tokens_map.items() if isinstance(v, str)))
    return _template_info_cached(template, kwargs)


def _answer_spans_by_prefix(info: TemplateInfo, msgs: list[dict]) -> list[tuple[int, int]]:
    """Fallback for templates that rewrite content: render each prefix and diff the lengths."""
    kw = dict(info.kwargs)
    spans = []
    for i, m in enumerate(msgs):
        if m["role"] == "assistant":
            before = _render(info.template, kw, [msgs[:i]], add_generation_prompt=True)[0]
            upto = _render(info.template, kw, [msgs[: i + 1]])[0]
            spans.append((len(before), len(upto.rstrip())))
    return spans


def char_segments(info: TemplateInfo, convs: list[list[dict]],
                  texts: list[str] | None = None) -> list[tuple[str, list[tuple[int, int]]]]:
    """For each conversation: its rendered text and the character spans of its answers."""
    if texts is None:
        texts = _render(info.template, dict(info.kwargs), convs)
    out = []
    for text, msgs in zip(texts, convs):
        spans, cursor = [], 0
        for m in msgs:
            content = m["content"]
            if m["role"] != "assistant":
                # search each answer after the messages before it: an answer that also occurs in the
                # prompt ("hi" after "Say hi") must not be found there
                pos = text.find(content, cursor) if content else -1
                cursor = pos + len(content) if pos >= 0 else cursor
                continue
            pos = text.find(content, cursor) if content else -1
            if pos < 0 and content.strip():
                content = content.strip()
                pos = text.find(content, cursor)
            if pos < 0:  # empty answer or a template that rewrites content
                spans = None
                break
            end = pos + len(content)
            if info.answer_suffix and text.startswith(info.answer_suffix, end):
                end += len(info.answer_suffix)
            spans.append((pos, end))
            cursor = end
        out.append((text, spans if spans is not None else _answer_spans_by_prefix(info, msgs)))
    return out


def _token_spans(offsets: list[tuple[int, int]], char_spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Char spans → token spans: a token belongs to an answer when it starts inside it."""
    return [(bisect_left(offsets, s, key=_first), bisect_left(offsets, e, key=_first)) for s, e in char_spans]


_SPLICERS: dict[tuple, Any] = {}


def _splicer(tokenizer, info: TemplateInfo):
    """The piece-by-piece encoder for this tokenizer + template, or None where it is not exact (see splice.py)."""
    backend = getattr(tokenizer, "_tokenizer", None)
    if backend is None or not getattr(tokenizer, "is_fast", False):
        return None
    key = (id(backend), backend.get_vocab_size(with_added_tokens=True), info)
    entry = _SPLICERS.get(key)
    if entry is None or entry[0] is not backend:
        from .splice import Splicer

        kw = dict(info.kwargs)
        s = Splicer(tokenizer, info, lambda convs: _render(info.template, kw, convs))
        while len(_SPLICERS) >= 8:  # entries hold their tokenizer: keep a few
            _SPLICERS.pop(next(iter(_SPLICERS)))
        entry = _SPLICERS[key] = (backend, s if s.exact_on_probes() else None)
    # a truncation/padding setting left on the backend would apply per piece instead of per text
    return entry[1] if backend.truncation is None and backend.padding is None else None


def tokenize_conversations(tokenizer, convs: list[list[dict]], train_on_prompt: bool = False,
                           with_ids: bool = True) -> list[dict[str, Any]]:
    """Full (untruncated) token count, answer token spans and (with_ids) ids and labels per conversation.

    Fast tokenizers: the splice path (splice.py) where it is exact, else `_encode_whole`. Slow tokenizers:
    prompt and answer segments are tokenized separately.
    """
    info = template_info(tokenizer)
    if not getattr(tokenizer, "is_fast", False):
        return [_with_labels(r, train_on_prompt) for r in _tokenize_segments(tokenizer, char_segments(info, convs))]
    texts = _render(info.template, dict(info.kwargs), convs)
    splicer = _splicer(tokenizer, info)
    spliced = splicer.encode(convs, texts, with_ids) if splicer else [None] * len(convs)
    results: list[dict[str, Any]] = [{} for _ in convs]
    rest = []
    for k, r in enumerate(spliced):
        if r is None:
            rest.append(k)
        else:
            results[k] = {"input_ids": r[0], "n_tokens": r[1], "spans": r[2]}
    if rest:
        whole = _encode_whole(tokenizer, info, [convs[k] for k in rest], [texts[k] for k in rest])
        for k, r in zip(rest, whole):
            results[k] = r
    if with_ids:
        for r in results:
            _with_labels(r, train_on_prompt)
    return results


def _encode_whole(tokenizer, info: TemplateInfo, convs: list[list[dict]], texts: list[str]) -> list[dict[str, Any]]:
    """One fast-tokenizer call over the whole rendered texts; answers located through the token offsets."""
    rendered = char_segments(info, convs, texts)
    encodings = tokenizer._tokenizer.encode_batch([t for t, _ in rendered], add_special_tokens=False)
    return [{"input_ids": enc.ids, "n_tokens": len(enc), "spans": _token_spans(enc.offsets, cspans)}
            for (_, cspans), enc in zip(rendered, encodings)]


def _with_labels(r: dict[str, Any], train_on_prompt: bool) -> dict[str, Any]:
    ids = r["input_ids"]
    labels = list(ids) if train_on_prompt else [IGNORE] * len(ids)
    for s, e in r["spans"]:
        labels[s:e] = ids[s:e]
    r["labels"] = labels
    return r


def _tokenize_segments(tokenizer, rendered) -> list[dict[str, Any]]:
    pieces, owners = [], []  # flat list of text segments, and (example, is_answer) per segment
    for k, (text, spans) in enumerate(rendered):
        cursor = 0
        for s, e in spans:
            if s > cursor:
                pieces.append(text[cursor:s]); owners.append((k, False))
            pieces.append(text[s:e]); owners.append((k, True))
            cursor = e
        if cursor < len(text):
            pieces.append(text[cursor:]); owners.append((k, False))
    encoded = tokenizer(pieces, add_special_tokens=False)["input_ids"] if pieces else []
    results = [{"input_ids": [], "spans": []} for _ in rendered]
    for (k, is_answer), ids in zip(owners, encoded):
        r = results[k]
        start = len(r["input_ids"])
        r["input_ids"].extend(ids)
        if is_answer:
            r["spans"].append((start, start + len(ids)))
    for r in results:
        r["n_tokens"] = len(r["input_ids"])
    return results


def render_batch(batch: dict[str, list], tokenizer, cutoff_len: int, truncation: str,
                 train_on_prompt: bool = False, keep_ids: bool = True) -> dict[str, list]:
    """datasets.map function: ids/labels after truncation, plus length statistics before it."""
    full = tokenize_conversations(tokenizer, batch["messages"], train_on_prompt, with_ids=keep_ids)
    cols: dict[str, list] = {k: [] for k in ("n_tokens", "n_response", "n_turns", "n_kept", "response_lost",
                                              "answers_lost", "answer_cut", "dropped", "truncated", "spans")}
    if keep_ids:
        cols["input_ids"], cols["labels"] = [], []
    for r in full:
        n = r["n_tokens"]
        w = plan_window(n, r["spans"], cutoff_len, truncation)
        cols["n_tokens"].append(n)
        cols["n_response"].append(sum(e - s for s, e in r["spans"]))
        cols["n_turns"].append(len(r["spans"]))
        cols["n_kept"].append(w.end - w.start)
        cols["response_lost"].append(w.response_lost)
        cols["answers_lost"].append(w.answers_lost)
        cols["answer_cut"].append(w.answer_cut)
        cols["dropped"].append(w.dropped)
        cols["truncated"].append(w.truncated)
        cols["spans"].append([list(s) for s in r["spans"]])
        if keep_ids:
            cols["input_ids"].append(r["input_ids"][w.start:w.end])
            cols["labels"].append(r["labels"][w.start:w.end])
    return cols


def render_dataset(ds, tokenizer, cutoff_len: int, truncation: str = "keep_response",
                   train_on_prompt: bool = False, keep_ids: bool = True, drop_unusable: bool = True,
                   num_proc: int | None = None, desc: str = "tokenizing"):
    """Tokenize a `messages` Dataset. With drop_unusable, dropped and no-trainable-token rows are removed."""
    out = ds.map(render_batch, batched=True, batch_size=500, num_proc=num_proc, desc=desc,
                 fn_kwargs=dict(tokenizer=tokenizer, cutoff_len=cutoff_len, truncation=truncation,
                                train_on_prompt=train_on_prompt, keep_ids=keep_ids),
                 load_from_cache_file=False)
    if drop_unusable and keep_ids:
        out = out.filter(lambda b: [not d and any(x != IGNORE for x in lab) for d, lab in zip(b["dropped"], b["labels"])],
                         batched=True, desc="removing unusable examples", load_from_cache_file=False)
    return out


def render_messages(messages: list[dict], tokenizer, cutoff_len: int | None = None,
                    truncation: str = "keep_response", train_on_prompt: bool = False) -> dict[str, Any]:
    """One conversation → {input_ids, labels, ...} exactly as training sees it."""
    cols = render_batch({"messages": [messages]}, tokenizer, cutoff_len or 1 << 30, truncation, train_on_prompt)
    return {k: v[0] for k, v in cols.items()}


def prompt_ids(messages: list[dict], tokenizer) -> list[int]:
    """Token ids of a prompt ready for generation (the template's generation prompt appended)."""
    info = template_info(tokenizer)
    text = _render(info.template, dict(info.kwargs), [messages], add_generation_prompt=True)[0]
    return tokenizer(text, add_special_tokens=False)["input_ids"]
