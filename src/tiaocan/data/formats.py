"""Dataset formats → one `messages` list per example, validated with the record index in every error.

Column and tag names follow LLaMA-Factory's dataset_info.json (`columns`, `tags`), so a user's
dataset_info.json maps onto these unchanged.
"""
from __future__ import annotations

import gc
import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import DataError

FORMAT_COLUMNS = {
    "alpaca": {"prompt": "instruction", "query": "input", "response": "output", "system": "system", "history": "history"},
    "sharegpt": {"messages": "conversations", "system": "system"},
    "openai": {"messages": "messages", "system": "system"},
}
SHAREGPT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                 "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}
OPENAI_TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
               "observation_tag": "tool", "function_tag": "function_call", "system_tag": "system"}


@dataclass
class ColumnMap:
    columns: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def default(cls, fmt: str) -> "ColumnMap":
        return cls(dict(FORMAT_COLUMNS[fmt]), dict(OPENAI_TAGS if fmt == "openai" else SHAREGPT_TAGS))

    @classmethod
    def from_info(cls, fmt: str, columns: dict[str, str], tags: dict[str, str]) -> "ColumnMap":
        base = cls.default(fmt)
        base.columns.update(columns)
        base.tags.update(tags)
        return base


def detect_format(column_names: list[str], source: str) -> str:
    cols = set(column_names)
    if "messages" in cols:
        return "openai"
    if "conversations" in cols:
        return "sharegpt"
    if "instruction" in cols:  # a missing output column is reported by to_messages
        return "alpaca"
    raise DataError(f"{source}: cannot tell the format from the columns {sorted(cols)}. Expected alpaca "
                    "(instruction, input, output), sharegpt (conversations) or OpenAI (messages); "
                    "or set formatting: alpaca|sharegpt|openai")


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DataError(f"{where} must be text, got {type(value).__name__} ({str(value)[:40]!r})")
    return value


def _turns(value: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(value, str):  # CSV stores nested lists as JSON text
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise DataError(f"{where} is text that is not a JSON list of turns") from None
    if not isinstance(value, list):
        raise DataError(f"{where} must be a list of turns, got {type(value).__name__}")
    return value


def _check_order(msgs: list[dict[str, str]], where: str, require_answer: bool = True) -> None:
    start = 1 if msgs and msgs[0]["role"] == "system" else 0
    if len(msgs) <= start:
        raise DataError(f"{where}: no user/assistant turns")
    for j, m in enumerate(msgs[start:], start):
        expected = "user" if (j - start) % 2 == 0 else "assistant"
        if m["role"] != expected:
            raise DataError(f"{where}: turn {j} has role '{m['role']}' where '{expected}' was expected "
                            "(after an optional system message, turns must alternate user, assistant, ...)")
    if require_answer and msgs[-1]["role"] != "assistant":
        raise DataError(f"{where}: the last turn is '{msgs[-1]['role']}'; a training example must end with an assistant answer")


def _alpaca(rec: dict[str, Any], c: dict[str, str], where: str, require_answer: bool = True) -> list[dict[str, str]]:
    msgs: list[dict[str, str]] = []
    system = _text(rec.get(c["system"]), f"{where} field '{c['system']}'")
    if system.strip():
        msgs.append({"role": "system", "content": system})
    for k, pair in enumerate(rec.get(c["history"]) or []):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise DataError(f"{where} field '{c['history']}'[{k}] must be a [question, answer] pair")
        msgs += [{"role": "user", "content": _text(pair[0], f"{where} history[{k}][0]")},
                 {"role": "assistant", "content": _text(pair[1], f"{where} history[{k}][1]")}]
    prompt = _text(rec.get(c["prompt"]), f"{where} field '{c['prompt']}'")
    query = _text(rec.get(c["query"]), f"{where} field '{c['query']}'")
    user = "\n".join(s for s in (prompt, query) if s)
    msgs.append({"role": "user", "content": user})
    if require_answer or rec.get(c["response"]) is not None:
        msgs.append({"role": "assistant", "content": _text(rec.get(c["response"]), f"{where} field '{c['response']}'")})
    return msgs


def _alpaca_batch(batch: dict[str, list], c: dict[str, str], require_answer: bool) -> list | None:
    """`_alpaca` for a whole batch of plain records (text or missing fields, no history): the same messages
    without a Python call per record. None when any record needs the per-record path (and its error messages)."""
    n = len(next(iter(batch.values())))
    if any(v for v in batch.get(c["history"]) or ()):
        return None
    cols = [batch.get(c[k]) or [None] * n for k in ("system", "prompt", "query", "response")]
    if not all(type(v) is str or v is None for col in cols for v in col):
        return None
    out = []
    for system, prompt, query, response in zip(*cols):
        msgs = [{"role": "system", "content": system}] if system and system.strip() else []
        msgs.append({"role": "user", "content": f"{prompt}\n{query}" if prompt and query else prompt or query or ""})
        if require_answer or response is not None:
            msgs.append({"role": "assistant", "content": response or ""})
        out.append(msgs)
    return out


def _conversation(rec: dict[str, Any], cmap: ColumnMap, where: str) -> list[dict[str, str]]:
    t, c = cmap.tags, cmap.columns
    roles = {t["user_tag"]: "user", t["assistant_tag"]: "assistant", t["system_tag"]: "system",
             t["observation_tag"]: "user", t["function_tag"]: "assistant", "user": "user", "assistant": "assistant"}
    msgs: list[dict[str, str]] = []
    system = rec.get(c.get("system", "system"))
    if isinstance(system, str) and system.strip():
        msgs.append({"role": "system", "content": system})
    for j, turn in enumerate(_turns(rec.get(c["messages"]), f"{where} field '{c['messages']}'")):
        if not isinstance(turn, dict) or t["role_tag"] not in turn:
            raise DataError(f"{where} turn {j}: expected an object with '{t['role_tag']}' and '{t['content_tag']}'")
        role = roles.get(turn[t["role_tag"]])
        if role is None:
            raise DataError(f"{where} turn {j}: unknown role '{turn[t['role_tag']]}' (known: {', '.join(sorted(roles))})")
        msgs.append({"role": role, "content": _text(turn.get(t["content_tag"]), f"{where} turn {j} '{t['content_tag']}'")})
    return msgs


def to_messages(raw, fmt: str, cmap: ColumnMap, source: str, require_answer: bool = True):
    """Map every record to `messages`; consumed columns are removed, others pass through.

    require_answer=False accepts examples that end with the user's turn (test sets without references).
    """
    needed = [cmap.columns["prompt"], cmap.columns["response"]] if fmt == "alpaca" else [cmap.columns["messages"]]
    if not require_answer:
        needed = needed[:1]
    missing = [col for col in needed if col not in raw.column_names]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing} for {fmt} format; found {raw.column_names}. "
                        "Rename the columns or map them in dataset_info.json 'columns'.")
    consumed = [col for col in cmap.columns.values() if col in raw.column_names]

    def convert(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        if fmt == "alpaca":
            fast = _alpaca_batch(batch, cmap.columns, require_answer)
            if fast is not None:
                return {"messages": fast}
        out = []
        for row, idx in enumerate(indices):
            rec = {k: v[row] for k, v in batch.items()}
            where = f"{source}: record {idx + 1}"
            msgs = (_alpaca(rec, cmap.columns, where, require_answer) if fmt == "alpaca"
                    else _conversation(rec, cmap, where))
            _check_order(msgs, where, require_answer)
            out.append(msgs)
        return {"messages": out}

    def convert_without_gc(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        # many small acyclic dicts: cyclic-GC passes over them would be work for nothing on large files
        enabled = gc.isenabled()
        gc.disable()
        try:
            return convert(batch, indices)
        finally:
            if enabled:
                gc.enable()

    keep = [col for col in consumed if col == "messages"]
    return raw.map(convert_without_gc, batched=True, with_indices=True, batch_size=1000,
                   remove_columns=[col for col in consumed if col not in keep],
                   desc="reading examples", load_from_cache_file=False)
