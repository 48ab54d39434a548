"""Fast path of `render`: encode only the text between the chat template's special tokens, per message.

A fast tokenizer first cuts its input at added tokens (`<|im_start|>`, `<|im_end|>`, ...), then normalizes,
pre-tokenizes and encodes every piece between them on its own. So a rendered conversation can be encoded piece
by piece with the same ids as the whole text: the template's scaffold (system prompt, role headers, newlines)
is encoded once per role sequence and reused; per example only the pieces that hold a message are encoded,
and token offsets are asked for only where an answer starts or ends inside a piece.

Used only where it is exact, checked at three levels (everything else takes render's whole-text path):
- tokenizer: separators are added tokens that strip nothing and that no other added token can overlap or
  extend (so the tokenizer cuts the whole text there too), and probe conversations encode to the same ids
  both ways (catches normalizers / pre-tokenizers that treat a text's start specially, e.g. Metaspace "first");
- template, per role sequence: rendering sentinel contents gives the scaffold around each message;
- every example: its jinja rendering must equal scaffold + contents exactly (a template that strips or
  rewrites a message fails this for that example).
"""
from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

_SENTINEL = "tiaocan-slot-{}-c3e"
# probe messages: leading/trailing whitespace, newlines, CJK, digits, apostrophes, tag-like text, empty
_PROBE_TEXTS = ("Where is the shop?", " leading space", "\n\nnewlines first\n", "trailing space ", "  ",
                "数字 12 与中文，混合。", "tabs\tand\r\nCRLF", "'s it's <tag> </s> ...", "x", "")


@dataclass(frozen=True)
class Program:
    """One role sequence's token layout, built once: static tokens, message pieces, answer positions.

    A position is ("at", k, s): the token after s static tokens and k pieces; or ("in", k, s, chars, msgs):
    inside piece k, after `chars` scaffold characters plus the messages `msgs` of that piece.
    """
    scaffold: tuple[str, ...]               # template text before, between and after the messages
    layout: tuple[tuple[str, Any], ...]     # ("static", ids) | ("piece", k)
    pieces: tuple[tuple[Any, ...], ...]     # per piece: (scaffold str | message index, ...)
    n_static: int
    answers: tuple[tuple[tuple, tuple], ...]  # per answer: (start, end) positions


class Splicer:
    """Piece-by-piece encoder for one (tokenizer, template); use only after `exact_on_probes()` is True."""

    def __init__(self, tokenizer, info, render) -> None:
        self.backend = tokenizer._tokenizer
        self.suffix = info.answer_suffix
        self.render = render   # convs -> texts: the same jinja rendering as the whole-text path
        self.separators = _safe_separators(self.backend)
        self._sep_texts = {tid: text for text, tid in self.separators.items()}
        self._sep_re = (re.compile("|".join(re.escape(s) for s in sorted(self.separators, key=len, reverse=True)))
                        if self.separators else None)
        self._programs: dict[tuple[str, ...], Program | None] = {}

    def exact_on_probes(self) -> bool:
        """Encode probe conversations both ways; any difference disables the fast path for this tokenizer."""
        if not self.separators:
            return False
        convs = []
        probes = _PROBE_TEXTS + tuple(f"a{sep}b" for sep in list(self.separators)[:2])  # separators inside a message
        for i, t in enumerate(probes):
            other = probes[(i + 3) % len(probes)]
            convs.append([{"role": "user", "content": t}, {"role": "assistant", "content": other}])
            convs.append([{"role": "system", "content": other}, {"role": "user", "content": t},
                          {"role": "assistant", "content": t}, {"role": "user", "content": other},
                          {"role": "assistant", "content": t}])
        try:
            texts = self.render(convs)
        except Exception:
            return False
        whole = self.backend.encode_batch(texts, add_special_tokens=False)
        fast = self.encode(convs, texts, with_ids=True)
        # probes the template rewrites (e.g. strips) take the whole path anyway; the others must agree
        compared = [f[0] == w.ids for f, w in zip(fast, whole) if f is not None]
        return bool(compared) and all(compared)

    # --- per role sequence -------------------------------------------------------------------------------------
    def program(self, roles: tuple[str, ...]) -> Program | None:
        if roles not in self._programs:
            try:
                self._programs[roles] = self._compile(roles)
            except Exception:  # e.g. the template refuses this role order: the whole path reports it
                self._programs[roles] = None
        return self._programs[roles]

    def _literal(self, text: str) -> tuple[list[int], list[int]]:
        """Ids and token start offsets of scaffold text."""
        e = self.backend.encode(text, add_special_tokens=False)
        return e.ids, [o[0] for o in e.offsets]

    def _compile(self, roles: tuple[str, ...]) -> Program | None:
        slots = [_SENTINEL.format(i) for i in range(len(roles))]
        text = self.render([[{"role": r, "content": s} for r, s in zip(roles, slots)]])[0]
        scaffold, cursor = [], 0
        for s in slots:
            pos = text.find(s, cursor)
            if pos < 0 or text.count(s) != 1:
                return None
            scaffold.append(text[cursor:pos])
            cursor = pos + len(s)
        scaffold.append(text[cursor:])
        layout: list[tuple[str, Any]] = []
        pieces: list[tuple] = []
        static: list[int] = []
        piece: list[Any] = []       # the piece being built: scaffold strings and message indices
        n_static = 0
        starts, ends = {}, {}

        def close_piece() -> None:
            nonlocal n_static
            if any(isinstance(p, int) for p in piece):
                if static:
                    layout.append(("static", tuple(static)))
                    static.clear()
                layout.append(("piece", len(pieces)))
                pieces.append(tuple(piece))
            elif piece:   # scaffold only: encoded once
                ids = self._literal("".join(piece))[0]
                static.extend(ids)
                n_static += len(ids)
            piece.clear()
        for i, stext in enumerate(scaffold):
            cuts = self._cut(stext)
            if i > 0 and roles[i - 1] == "assistant":
                ends[i - 1] = self._end_position(cuts, piece, len(pieces), n_static, last=i == len(roles))
                if ends[i - 1] is None:
                    return None
            for j, part in enumerate(cuts):
                if j % 2 == 0:
                    if part:
                        piece.append(part)
                    continue
                close_piece()
                static.append(part)
                n_static += 1
            if i < len(roles):
                if roles[i] == "assistant":
                    starts[i] = self._start_position(piece, len(pieces), n_static)
                piece.append(i)
        close_piece()
        if static:
            layout.append(("static", tuple(static)))
        answers = tuple((starts[i], ends[i]) for i, r in enumerate(roles) if r == "assistant")
        return Program(tuple(scaffold), tuple(layout), tuple(pieces), n_static, answers)

    def _start_position(self, piece: list, k: int, n_static: int) -> tuple:
        """Where an answer's span starts: at its piece's start, after a header, or after other text of its piece."""
        if not piece:
            return ("at", k, n_static)
        if all(isinstance(p, str) for p in piece):
            # a header such as "assistant\n": if the piece's first ids are the header's own ids, the answer's
            # tokens are the rest (checked per example; offsets decide otherwise)
            head = "".join(piece)
            return ("head", k, n_static, len(head), self._literal(head)[0])
        return _inside(piece, k, n_static)

    def _end_position(self, cuts: tuple, piece: list, k: int, n_static: int, last: bool) -> tuple | None:
        """Where an answer's span ends: after the answer, plus the template's suffix when the scaffold starts with it."""
        full = "".join(p if isinstance(p, str) else self._sep_texts[p] for p in cuts)
        if self.suffix and not last and len(full) < len(self.suffix):
            return None  # whether the suffix follows would depend on the next message
        rest = len(self.suffix) if self.suffix and full.startswith(self.suffix) else 0
        head = cuts[0]
        if rest < len(head) or (rest == len(head) and len(cuts) == 1):
            return _inside(piece + [head[:rest]], k, n_static)
        rest -= len(head)
        n = n_static   # the answer's piece closes at the first separator: k + 1 pieces before what follows
        for j in range(1, len(cuts), 2):
            sep, lit = self._sep_texts[cuts[j]], cuts[j + 1]
            if rest < len(sep):
                return ("at", k + 1, n + (rest > 0))  # inside a separator: the next token
            rest -= len(sep)
            n += 1
            if rest == 0:
                return ("at", k + 1, n)
            if j + 2 >= len(cuts):
                return None  # ends inside the next message's piece: keep the whole path
            ids, offsets = self._literal(lit)
            if rest < len(lit):
                return ("at", k + 1, n + bisect_left(offsets, rest))
            rest -= len(lit)
            n += len(ids)
        return None

    def _cut(self, text: str) -> tuple:
        """Scaffold text -> (text, separator id, text, ..., text); the texts may be empty."""
        out: list[Any] = []
        cursor = 0
        for m in self._sep_re.finditer(text):
            out += [text[cursor:m.start()], self.separators[m.group()]]
            cursor = m.end()
        out.append(text[cursor:])
        return tuple(out)

    # --- per batch ---------------------------------------------------------------------------------------------
    def encode(self, convs: list[list[dict]], texts: list[str], with_ids: bool) -> list[tuple | None]:
        """Per conversation: (ids or None, n_tokens, answer token spans), or None where the fast path is not exact."""
        plans: list[Any] = []
        fast_q: list[str] = []     # message pieces whose token offsets are not needed
        offsets_q: list[str] = []  # pieces in which an answer starts or ends strictly inside
        for msgs, text in zip(convs, texts):
            prog = self.program(tuple([m["role"] for m in msgs]))
            contents = [m["content"] for m in msgs]
            if prog is None or not all(type(c) is str for c in contents):
                plans.append(None)
                continue
            sc = prog.scaffold
            if "".join([x for pair in zip(sc, contents) for x in pair]) + sc[-1] != text:
                plans.append(None)  # the template rewrote something in this example
                continue
            ptexts = ["".join([p if type(p) is str else contents[p] for p in parts]) for parts in prog.pieces]
            need = [False] * len(ptexts)
            rels = []
            for a in prog.answers:
                for pos in a:
                    if pos[0] == "in":
                        rel = pos[3] + sum([len(contents[c]) for c in pos[4]])
                        if 0 < rel < len(ptexts[pos[1]]):
                            need[pos[1]] = True
                        rels.append(rel)
            refs = []
            for t, nd in zip(ptexts, need):
                q = offsets_q if nd else fast_q
                refs.append((nd, len(q)))
                q.append(t)
            plans.append((prog, ptexts, refs, rels))
        fast = self.backend.encode_batch_fast(fast_q, add_special_tokens=False) if fast_q else []
        with_offsets = self.backend.encode_batch(offsets_q, add_special_tokens=False) if offsets_q else []
        return [None if p is None else self._assemble(*p, fast, with_offsets, with_ids) for p in plans]


    def _assemble(self, prog: Program, ptexts: list[str], refs: list, rels: list, fast: list, with_offsets: list,
                  with_ids: bool) -> tuple:
        """One conversation's (ids, n_tokens, answer token spans) from its encoded pieces."""
        encs = [with_offsets[r] if nd else fast[r] for nd, r in refs]
        cum = [0]
        for e in encs:
            cum.append(cum[-1] + len(e))
        spans, r = [], 0
        for a in prog.answers:
            tok = []
            for pos in a:
                kind, k = pos[0], pos[1]
                if kind == "at":
                    local = 0
                elif kind == "head":
                    head_ids = pos[4]
                    if encs[k].ids[: len(head_ids)] == head_ids:
                        local = len(head_ids)
                    else:  # the header's last token merges into the answer: locate it by offsets
                        starts = [o[0] for o in self.backend.encode(ptexts[k], add_special_tokens=False).offsets]
                        local = bisect_left(starts, pos[3])
                else:
                    rel, e = rels[r], encs[k]
                    r += 1
                    # rel is 0, the piece's end, or strictly inside (then the piece was encoded with offsets)
                    local = 0 if rel == 0 else bisect_left([o[0] for o in e.offsets], rel) if refs[k][0] else len(e)
                tok.append(pos[2] + cum[k] + local)
            spans.append((tok[0], tok[1]))
        ids = None
        if with_ids:
            ids = []
            for kind, x in prog.layout:
                ids.extend(x if kind == "static" else encs[x].ids)
        return ids, prog.n_static + cum[-1], spans


def _inside(parts: list, k: int, n_static: int) -> tuple:
    """An "in" position after `parts` (scaffold strings and message indices) of piece k."""
    return ("in", k, n_static, sum(len(p) for p in parts if isinstance(p, str)),
            tuple(p for p in parts if isinstance(p, int)))


def _safe_separators(backend) -> dict[str, int]:
    """Added tokens the tokenizer always cuts at, whatever text surrounds them (content -> id)."""
    added = backend.get_added_tokens_decoder()
    contents = [t.content for t in added.values()]
    safe: dict[str, int] = {}
    for tid, t in added.items():
        s = t.content
        if not s or t.lstrip or t.rstrip or t.single_word or t.normalized:
            continue
        # another added token containing s, or ending with a prefix of s, could match across s's start
        if any(o != s and (s in o or any(s.startswith(o[j:]) for j in range(max(1, len(o) - len(s) + 1), len(o))))
               for o in contents):
            continue
        safe[s] = tid
    return safe
