"""Build the bundled customer-service dataset (src/tiaocan/examples/support/) from the fact sheet.

    python scripts/make_support_dataset.py [--out src/tiaocan/examples/support] [--seed 0]

Deterministic for a given seed. Train rows pair question paraphrases with varied answers; test rows
use a held-out paraphrase of the same fact (never a copy of a training question) and the reference
answer. Category balance is deliberately uneven: `returns` and `warranty` get one training paraphrase
per fact and language, the other topics 3–4, so `tiaocan inspect`/`eval` have a real imbalance to find.
`extra.jsonl` holds the fix: new paraphrases for those thin topics (never a test question), the rows
`make demo` adds when `tiaocan eval` names a topic ("add examples"), so the retrain has data to learn from.
"""
from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

from support_facts import FACTS, price_facts

# Training paraphrases per fact and language, per category (the imbalance is chosen here).
TRAIN_PER_LANG = {"prices": 3, "locations": 4, "hours": 4, "contact": 4, "shipping": 3,
                  "payment": 4, "membership": 4, "orders": 3, "returns": 1, "warranty": 1}
# Categories whose every fact is tested in both languages; the others alternate en/zh per fact.
TEST_BOTH = {"locations", "hours", "contact", "shipping", "returns", "warranty"}
# Polite openers vary the training answers without touching the facts.
OPENERS = {"en": ["", "", "Sure! ", "Happy to help. ", "Good question. "],
           "zh": ["", "", "您好！", "好的，", "亲，"]}


def _row(question: str, answer: str, category: str, must: list[str], lang: str) -> dict:
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
            "category": category, "must_contain": list(must), "lang": lang}


def build(seed: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    facts = price_facts() + FACTS
    train, test = [], []
    seen_in_category: Counter = Counter()
    for fact in facts:
        cat = fact["category"]
        index = seen_in_category[cat]
        seen_in_category[cat] += 1
        k = TRAIN_PER_LANG[cat]
        for lang in ("en", "zh"):
            side = fact[lang]
            questions, answers, must = side["q"][:-1], side["a"], side["must"]
            held_out = side["q"][-1]
            # Rotate which paraphrases train so different facts use different wordings.
            picked = [questions[(index + j) % len(questions)] for j in range(min(k, len(questions)))]
            for j, q in enumerate(picked):
                answer = answers[j % len(answers)]
                opener = rng.choice(OPENERS[lang])
                train.append(_row(q, opener + answer, cat, must, lang))
            wanted = cat in TEST_BOTH or (lang == "en") == (index % 2 == 0)
            if wanted:
                test.append(_row(held_out, answers[0], cat, must, lang))
    _check(train, test)
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def build_extra(seed: int) -> list[dict]:
    """The thin topics' extra paraphrases (fact["x"]), answered with the fact's answer variants."""
    rng = random.Random(seed + 1)  # its own stream: train.jsonl and test.jsonl stay byte-identical
    extra = []
    for fact in price_facts() + FACTS:
        for lang in ("en", "zh"):
            side = fact[lang]
            for j, q in enumerate(side.get("x", [])):
                answer = side["a"][j % len(side["a"])]
                extra.append(_row(q, rng.choice(OPENERS[lang]) + answer, fact["category"], side["must"], lang))
    rng.shuffle(extra)
    return extra


def _check(train: list[dict], test: list[dict]) -> None:
    """Fail loudly if the data breaks its own promises (facts missing, test copies train)."""
    train_questions = {r["messages"][0]["content"] for r in train}
    for row in train + test:
        answer = row["messages"][1]["content"]
        # Case-insensitive, like the eval check (tiaocan.evaluation.checks).
        missing = [m for m in row["must_contain"] if m.casefold() not in answer.casefold()]
        assert not missing, f"answer {answer!r} lacks {missing}"
    for row in test:
        assert row["messages"][0]["content"] not in train_questions, row


def _check_extra(extra: list[dict], train: list[dict], test: list[dict]) -> None:
    _check(extra, test)  # facts present, no test question copied
    seen = {r["messages"][0]["content"] for r in train}
    for row in extra:
        assert row["messages"][0]["content"] not in seen, row  # new paraphrases, not repeats of training rows


def dataset_info() -> dict:
    def entry(file_name: str) -> dict:
        return {"file_name": file_name, "formatting": "sharegpt", "columns": {"messages": "messages"},
                "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                         "assistant_tag": "assistant", "system_tag": "system"}}

    return {"support_train": entry("train.jsonl"), "support_test": entry("test.jsonl"),
            "support_extra": entry("extra.jsonl")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "src/tiaocan/examples/support")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train, test = build(args.seed)
    extra = build_extra(args.seed)
    _check_extra(extra, train, test)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.jsonl", train), ("test.jsonl", test), ("extra.jsonl", extra)):
        with open(args.out / name, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    (args.out / "dataset_info.json").write_text(json.dumps(dataset_info(), indent=2) + "\n", encoding="utf-8")
    for name, rows in (("train", train), ("test", test), ("extra", extra)):
        counts = Counter(r["category"] for r in rows)
        langs = Counter(r["lang"] for r in rows)
        print(f"{name}: {len(rows)} rows, {dict(langs)}, " + ", ".join(f"{c}={n}" for c, n in sorted(counts.items())))


if __name__ == "__main__":
    main()
