"""Successive halving with budget-aware runs: every rung is a complete, shorter training run.

Why not judge a trial part-way through its run (what Optuna's SuccessiveHalving/Hyperband pruners do): a run
judged before its learning-rate decay is judged at a high learning rate, where the noise of a large step hides the
progress that the decay later turns into loss. The configurations that end best (high learning rates) then look
no better, or worse, at the rungs, and successive halving may stop them (bench/RESULTS.md "tune quality": session
2's mid-run ranking preferred the lower learning rate that ended worse; in session 3 two configurations ~4 % apart
at the end were 1.2 % apart mid-run and 9.7 % apart as complete shorter runs).
Li, Yumer & Ramanan (ICLR 2020, "Budgeted training") show that a schedule that decays within the run's own budget
makes short runs rank configurations much as full runs do. So here a trial at rung k is a full run compressed to
r_k / full of its own length (its warmup and decay fit that length; `max_steps`), evaluated at its end.

One bracket (Hyperband's most aggressive one, Li et al. 2018): η^s configurations at r_0 = full / η^s examples,
the best 1/η of them re-run at r_1 = η·r_0, ..., one at the full length. With η = 3 a bracket costs about s+1 full
runs. Bracket 0 starts from the plan (trial 0) and points spread over the space; later brackets take their
configurations from Optuna's TPE, which ranks the rung trials (recorded as pruned, with their final value at
their length) below the longer ones — its multi-fidelity handling. A bracket is sized to the budget left.
Rung trials are fresh runs (Optuna cannot resume a trial, and a decayed run cannot be continued anyway).
"""
from __future__ import annotations

import math
from typing import Any

from .attrs import StudyAttrs, TrialAttrs

REDUCTION = 3  # keep the best third at each rung (η = 3, Hyperband's default)
MIN_RUNG_STEPS = 3  # a run of fewer optimizer steps mostly measures its warmup, not the configuration


def max_rungs(full_examples: int, base_batch: int) -> int:
    """The most rungs below the full run (s) such that the first rung still has MIN_RUNG_STEPS optimizer steps of
    the base batch."""
    s = 0
    while full_examples / REDUCTION ** (s + 1) >= MIN_RUNG_STEPS * max(1, base_batch):
        s += 1
    return s


def rung_examples(full_examples: int, s: int, k: int, base_batch: int = 1) -> int:
    """Examples a rung-k trial of an s-rung bracket trains on: full / η^(s-k), to whole steps of the base batch
    (the nearest, so a bracket costs about s+1 full runs, not more); the last rung is the full run."""
    if k >= s:
        return full_examples
    eb = max(1, base_batch)
    return max(eb, int(round(full_examples / REDUCTION ** (s - k) / eb)) * eb)


def rung_sizes(s: int) -> list[int]:
    """Configurations at each rung of an s-rung bracket: η^s, η^(s-1), ..., 1."""
    return [REDUCTION ** (s - k) for k in range(s + 1)]


def bracket_cost(full_examples: int, s: int, base_batch: int = 1) -> float:
    """Full-run equivalents one complete bracket trains on."""
    return sum(n * rung_examples(full_examples, s, k, base_batch)
               for k, n in enumerate(rung_sizes(s))) / max(1, full_examples)


def choose_bracket(remaining_runs: float | None, s_max: int, full_examples: int, base_batch: int = 1) -> int | None:
    """The most aggressive bracket (largest s ≤ s_max) that fits the budget left; None when not even one full run
    fits (a bracket that cannot reach its last rung only spends the budget). Unknown remaining: s_max."""
    for s in range(s_max, -1, -1):
        if remaining_runs is None or bracket_cost(full_examples, s, base_batch) <= remaining_runs * 1.02:
            return s
    return None


class SuccessiveHalving:
    """Budget-aware successive halving for one study: which rung a trial is at and how long it trains, which
    bracket a new trial opens, when a rung is promoted, and when the search is done.

    It holds only the run arithmetic (rung lengths from the full run); everything that changes — the brackets
    opened, the rungs promoted, each trial's tags — lives in the study, so every worker on it (this machine's or
    another's) sees the same state. Budgets are in full-run equivalents (`Ledger.in_runs`); None = unknown, e.g. a
    time budget before anything was measured.
    """

    kind = "sh"
    min_fraction = 1.0  # a bracket must reach its last rung, one full run: a smaller budget is refused
    slack = 1.25  # a bracket is sized before it starts, then finished: cut a trial only when that estimate was far off
    search_epochs = False  # rungs compare shorter runs, where more epochs would just mean more data
    prunes_mid_run = False  # rung lengths are decided before a trial starts: nothing is stopped during a run
    eval_every = None  # full-length trials: the default cadence

    def __init__(self, full_examples: int, base_batch: int):
        self.full_examples, self.base_batch = full_examples, max(1, base_batch)
        self.s_max = max_rungs(full_examples, self.base_batch)

    # ---- the optuna side: no pruner (a rung trial ends by itself), notes for the report

    def pruner(self):
        import optuna

        return optuna.pruners.NopPruner()

    def notes(self) -> list[str]:
        if self.s_max:
            return []
        return [f"runs are too short to judge shorter runs (a full run is {self.full_examples} examples, "
                f"{math.ceil(self.full_examples / self.base_batch)} steps): every trial runs to the end"]

    # ---- rungs: lengths and costs

    def rung_examples(self, s: int, k: int) -> int:
        return rung_examples(self.full_examples, s, k, self.base_batch)

    def rung_fraction(self, s: int, k: int) -> float:
        return self.rung_examples(s, k) / max(1, self.full_examples)

    def fraction(self, trial) -> float:
        """The share of its own full run this trial trains on: its rung's (a shortened run), else 1."""
        a = TrialAttrs.of(trial)
        return 1.0 if a.rung is None else self.rung_fraction(a.rungs, a.rung)

    def cost(self, s: int) -> float:
        return bracket_cost(self.full_examples, s, self.base_batch)

    # ---- brackets: opened to fit the budget left

    def next_size(self, study, budget_runs: float | None, spent_runs: float) -> int | None:
        """The size s of a new bracket that fits what is left after the brackets already opened (their planned
        cost, or what was really spent if more: retried or crashed trials)."""
        if budget_runs is None:
            return self.s_max
        committed = sum(self.cost(s) for s in StudyAttrs.of(study).brackets)
        left = (budget_runs - max(committed, spent_runs)) / self.cost_ratio(study)
        return choose_bracket(left, self.s_max, self.full_examples, self.base_batch)

    def cost_ratio(self, study) -> float:
        """What finished rung trials really cost ÷ their planned share of a base run: above 1 when the sampled
        configurations train longer than the base (more epochs), so brackets are sized by what they will cost."""
        from optuna.trial import TrialState

        full_tokens = StudyAttrs.of(study).full_run_tokens
        planned = actual = 0.0
        for t in study.get_trials(deepcopy=False):
            a = TrialAttrs.of(t)
            if a.tag is None or not a.tokens or t.state not in (TrialState.PRUNED, TrialState.COMPLETE):
                continue
            planned += self.rung_fraction(a.rungs if a.rungs is not None else a.rung, a.rung)
            actual += a.tokens / max(1, full_tokens or 0)
        return actual / planned if planned >= 0.5 and full_tokens else 1.0

    def start(self, study, space, base, budget_runs: float | None, seed: int) -> int | None:
        """Open bracket 0: the plan as trial 0, then η^s - 1 points spread over the space, all at rung 0 (the
        sampler's first guesses would leave gaps a small budget never fills). Returns s, None if nothing fits."""
        s = self.next_size(study, budget_runs, 0.0)
        if s is None:
            return None
        StudyAttrs.write(study, brackets=[s])
        tags = {"bracket": 0, "rung": 0, "rungs": s}
        # Not skip_if_exists: a duplicate (likely in a space of a few choices) must still fill its rung slot.
        plan = space.params_of(base)
        study.enqueue_trial(plan, user_attrs=TrialAttrs.queued(role="plan", **tags))
        for values in space.space_filling(rung_sizes(s)[0] - 1, seed=seed, taken=plan):
            study.enqueue_trial(values, user_attrs=TrialAttrs.queued(role="probe", **tags))
        return s

    def place(self, study, trial, budget_runs: float | None, spent_runs: float) -> dict[str, Any] | str:
        """The trial's tags: its own when it was queued, else rung 0 of the open bracket or of a new one sized to
        the budget left. A string says why it must not train: no bracket fits, or it duplicates a promotion
        another worker queued at the same moment (the study attr is no lock; this check is the dedupe)."""
        a = TrialAttrs.of(trial)
        if a.tag is not None:
            if a.promoted_from is not None and any(
                    t.number < trial.number and TrialAttrs.of(t).tag == a.tag
                    and TrialAttrs.of(t).promoted_from == a.promoted_from for t in study.get_trials(deepcopy=False)):
                return f"a duplicate of an earlier promotion of trial {a.promoted_from}: not trained"
            return a.placement()
        brackets = StudyAttrs.of(study).brackets
        if brackets and self._rung0_open(study, len(brackets) - 1, brackets[-1], exclude=trial.number):
            return {"bracket": len(brackets) - 1, "rung": 0, "rungs": brackets[-1]}
        s = self.next_size(study, budget_runs, spent_runs)
        if s is None:
            return "no bracket of successive halving fits the budget left: not trained"
        StudyAttrs.write(study, brackets=list(brackets) + [s])
        return {"bracket": len(brackets), "rung": 0, "rungs": s}

    # ---- promotion: each finished rung's best third goes up one rung

    def promotions(self, study) -> list[tuple[int, int, list[tuple[int, dict[str, Any]]]]]:
        """[(bracket, next rung, [(trial number, params), ...])] for every rung that is complete — all its trials
        finished; rung 0 also as many as it holds (the sampler adds them one by one; later rungs are queued at
        once, and hold fewer when trials below failed) — and not promoted yet: its best 1/η, best first. Failed
        trials (NaN at a high learning rate) are out; a rung whose trials all failed promotes nobody."""
        from optuna.trial import TrialState

        attrs = StudyAttrs.of(study)
        trials = study.get_trials(deepcopy=False)
        out = []
        for b, s in enumerate(attrs.brackets):
            for k, size in enumerate(rung_sizes(s)[:-1]):
                if f"{b}:{k}" in attrs.promoted_rungs:
                    continue
                rung = [t for t in trials if TrialAttrs.of(t).tag == (b, k)]
                if not rung or (k == 0 and len(rung) < size) or \
                        any(t.state in (TrialState.WAITING, TrialState.RUNNING) for t in rung):
                    continue
                ok = [t for t in rung if t.value is not None and math.isfinite(t.value)
                      and t.state in (TrialState.PRUNED, TrialState.COMPLETE)]
                ok.sort(key=lambda t: t.value, reverse=study.direction.name.lower() == "maximize")
                out.append((b, k + 1, [(t.number, dict(t.params)) for t in ok[:rung_sizes(s)[k + 1]]]))
        return out

    def promote(self, study) -> int:
        """Queue the best third of every finished rung at the next rung (same parameters, a fresh longer run);
        returns how many were queued. Several workers may call this: the study attr makes the second caller a
        no-op, and when both read it before either wrote it, `place` trains only the first of the two copies."""
        brackets = StudyAttrs.of(study).brackets
        done = set(StudyAttrs.of(study).promoted_rungs)
        queued = 0
        for b, k, winners in self.promotions(study):
            done.add(f"{b}:{k - 1}")
            StudyAttrs.write(study, promoted_rungs=sorted(done))
            for number, params in winners:
                study.enqueue_trial(params, user_attrs=TrialAttrs.queued(
                    role="promoted", promoted_from=number, bracket=b, rung=k, rungs=brackets[b]))
                queued += 1
        return queued

    def finished(self, study, budget_runs: float | None, spent_runs: float) -> bool:
        """Nothing queued, no rung left to promote, the last bracket's rung 0 full and no new bracket fits."""
        from optuna.trial import TrialState

        if any(t.state == TrialState.WAITING for t in study.get_trials(deepcopy=False)):
            return False
        if self.promotions(study):
            return False
        brackets = StudyAttrs.of(study).brackets
        if brackets and self._rung0_open(study, len(brackets) - 1, brackets[-1]):
            return False
        return self.next_size(study, budget_runs, spent_runs) is None

    @staticmethod
    def _rung0_open(study, b: int, s: int, exclude: int | None = None) -> bool:
        n = sum(1 for t in study.get_trials(deepcopy=False) if t.number != exclude and TrialAttrs.of(t).tag == (b, 0))
        return n < rung_sizes(s)[0]
