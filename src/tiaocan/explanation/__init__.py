"""Texts in English and Chinese: one source for `tiaocan explain`, plan reasons and diagnose findings.

Texts live in en.yaml / zh.yaml next to this file (shipped as package data), read by `texts(lang)`: each parameter
has a title, meaning, interactions, signs it is set wrong, what tiaocan does, and `reasons` templates used by the
advisor; `findings` holds each diagnose finding's title and explanation by finding id, and zh.yaml's
`evidence_rules` turn the findings' English evidence lines into Chinese.
"""
from __future__ import annotations

import locale
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from ..errors import UserError

LANGS = ("en", "zh")
SECTIONS = ("meaning", "interactions", "signs", "tiaocan")


@lru_cache(maxsize=4)
def texts(lang: str) -> dict[str, Any]:
    return yaml.safe_load((Path(__file__).parent / f"{lang}.yaml").read_text(encoding="utf-8"))


def resolve_lang(lang: str | None) -> str:
    """--lang wins; else the locale (LC_ALL, LC_MESSAGES, LANG, then Python's locale): zh* → zh, anything else → en."""
    if lang:
        code = lang.lower().replace("_", "-")
        if code.startswith("zh") or code in ("cn", "chinese", "中文"):
            return "zh"
        if code.startswith("en"):
            return "en"
        raise UserError(f"--lang {lang}: choose en or zh")
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        val = os.environ.get(var)
        if val:
            return "zh" if val.lower().startswith("zh") else "en"
    loc = (locale.getlocale()[0] or "").lower()
    return "zh" if loc.startswith("zh") else "en"


def reason(param: str, key: str, lang: str = "en", /, **kw: Any) -> str:
    """Render one reason template; a missing zh template falls back to English."""
    for lg in (lang, "en"):
        tmpl = texts(lg).get(param, {}).get("reasons", {}).get(key)
        if tmpl is not None:
            return tmpl.format(**kw)
    raise KeyError(f"no reason text {param}.{key}")


def finding_text(fid: str, part: str, case: str | None, lang: str, /, **values: Any) -> str:
    """A diagnose finding's `part` (title | explanation) in `lang`, filled with `values`. `case` picks the text of
    a finding that has several (and must be None for one that has one): a mismatch is a KeyError naming it."""
    entry = texts(lang)["findings"][fid][part]
    if isinstance(entry, dict) != (case is not None) or (case is not None and case not in entry):
        raise KeyError(f"no finding text findings.{fid}.{part}" + (f".{case}" if case else "") + f" in {lang}.yaml")
    return (entry[case] if case is not None else entry).format(**values)


def evidence_rules() -> list[tuple[str, str]]:
    """(regular expression, replacement) pairs that turn the findings' English evidence lines into Chinese; {N} in a
    pattern stands for a number (diagnosis/evidence_zh.py fills it in)."""
    return [(p, r) for p, r in texts("zh")["evidence_rules"]]


class Explanation(BaseModel):
    param: str
    lang: str
    title: str
    meaning: str
    interactions: str
    signs: str
    tiaocan: str


def params() -> list[str]:
    """Keys with a full entry (en.yaml / zh.yaml)."""
    return [k for k, v in texts("en").items() if "title" in v]


def all_params() -> list[str]:
    """What `explain` covers: the full entries, then every other TrainConfig key (its field description)."""
    from ..config import key_help

    full = params()
    return full + [k for k, _, _ in key_help() if k not in full]


def _brief(key: str, lang: str) -> Explanation:
    """A key without a full entry: its TrainConfig field description, the text `train --help` shows (English)."""
    from ..config import key_help

    default, desc = next((d, h) for k, d, h in key_help() if k == key)
    shown = "" if default is None else f" (default {default})" if lang == "en" else f"（默认 {default}）"
    return Explanation(param=key, lang=lang, title=key, meaning=desc + shown, interactions="", signs="", tiaocan="")


def explain(param: str | None = None, lang: str | None = None) -> list[Explanation]:
    """Explanations for one parameter (name as in the YAML config) or all of them: every TrainConfig key."""
    lg = resolve_lang(lang)
    names = all_params()
    if param is not None:
        if param not in names:
            close = [n for n in names if param.lower() in n or n in param.lower()]
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise UserError(f"explain: unknown parameter '{param}'.{hint} Known: {', '.join(names)}")
        names = [param]
    t = texts(lg)
    return [Explanation(param=n, lang=lg, title=t[n]["title"], **{s: t[n][s] for s in SECTIONS}) if n in t
            else _brief(n, lg) for n in names]
