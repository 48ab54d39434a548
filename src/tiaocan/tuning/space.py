"""The search space: built around a base configuration (the plan's, or the user's YAML).

Priority follows what matters most for LoRA fine-tuning (mission.md, "Calibration"): the learning rate first
(log-uniform around the base value), then the effective batch and the epoch ceiling, then warmup, the LoRA+
ratio, and the rank only when the adapter's capacity may matter. With a small budget only the first
dimensions are searched: a sampler cannot learn six dimensions from five trials.
"""
from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Literal

from pydantic import BaseModel

from ..config import TrainConfig
from ..errors import UserError

LR_SPAN = 10.0  # the learning rate is searched over [base / 10, base * 10] unless the range test sets the top
LR_DECADES = 2.0  # the range spans two decades below its top (LoRA's good learning rates span about that much)
BATCH_FACTORS = (0.25, 0.5, 1, 2, 4)  # effective batches around the base one
MAX_EPOCHS = 10  # practitioner rule: stay within about 10 epochs
RANK_CHOICES = (8, 16, 32, 64)
LORAPLUS_CHOICES = (0.0, 4.0, 8.0, 16.0)  # 0 = plain LoRA; 16 is the LoRA+ paper's suggestion
CAPACITY_TOKENS = 2_000_000  # response tokens per epoch above which a rank-8 adapter may run out of capacity
# Dimensions in priority order; `dims_for_trials` takes a prefix of this list.
PRIORITY = ("learning_rate", "effective_batch", "num_train_epochs", "warmup_ratio", "loraplus_lr_ratio", "lora_rank")


class Param(BaseModel):
    """One searched dimension: a float/int range (optionally log) or a list of choices."""

    name: str
    kind: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list[Any] | None = None

    def distribution(self):
        import optuna.distributions as d

        if self.kind == "categorical":
            return d.CategoricalDistribution(self.choices)
        if self.kind == "int":
            return d.IntDistribution(int(self.low), int(self.high), log=self.log)
        return d.FloatDistribution(self.low, self.high, log=self.log)

    def suggest(self, trial) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, self.choices)
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def at(self, u: float) -> Any:
        """The value at quantile u in [0, 1) of this dimension (log-scaled ranges are cut evenly in log space)."""
        if self.kind == "categorical":
            return self.choices[min(len(self.choices) - 1, int(u * len(self.choices)))]
        if self.log:
            v = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            v = self.low + u * (self.high - self.low)
        return self.clamp(v)

    def clamp(self, value: Any) -> Any:
        """The nearest value inside this dimension (used to express the base config as a trial)."""
        if self.kind == "categorical":
            if value in self.choices:
                return value
            nums = [c for c in self.choices if isinstance(c, (int, float))]
            return min(nums, key=lambda c: abs(math.log((c or 1e-9) / (value or 1e-9)))) if nums else self.choices[0]
        v = min(max(float(value), self.low), self.high)
        return int(round(v)) if self.kind == "int" else v


class SearchSpace(BaseModel):
    """The dimensions plus how to turn sampled values back into a TrainConfig."""

    params: list[Param]
    micro_batch: int  # the micro batch that fits memory; the effective batch is made with accumulation

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def distributions(self) -> dict[str, Any]:
        return {p.name: p.distribution() for p in self.params}

    def signature(self) -> str:
        """A short hash of the space: a study may only be continued with the same space."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def suggest(self, trial) -> dict[str, Any]:
        return {p.name: p.suggest(trial) for p in self.params}

    def space_filling(self, n: int, seed: int = 0, taken: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """n points spread over the space (a Latin hypercube: each dimension's range cut into n strata, one point
        at a random place in each, strata paired at random). Random or TPE start points leave gaps a small budget
        never fills; here every decade of the learning rate gets its share of the first trials. (Mid-strata
        points would put one exactly on the base value, the range's log centre, which is already trial 0.)

        Sliced by the first choice dimension (in priority order: the effective batch) when every choice can get
        at least two points: each choice then gets its own hypercube over the other dimensions (a sliced Latin
        hypercube, Qian 2012), so every batch size sees the whole learning-rate range instead of the few learning
        rates a plain hypercube happens to pair with it. `taken` (the base config, already trial 0) counts
        towards its choice's share."""
        import random

        rng = random.Random(seed)
        cat = next((p for p in self.params if p.kind == "categorical" and len(p.choices) > 1), None)
        if cat is None or n < 2 * len(cat.choices):
            return self._hypercube(n, self.params, rng)
        levels = list(cat.choices)
        total = n + (1 if taken is not None and taken.get(cat.name) in levels else 0)
        share = {c: total // len(levels) for c in levels}
        # The remainder goes to choices without the base point first; the base point fills one slot of its own.
        spare = total % len(levels)
        for c in sorted(levels, key=lambda c: taken is not None and taken.get(cat.name) == c):
            if spare:
                share[c], spare = share[c] + 1, spare - 1
        if taken is not None and taken.get(cat.name) in share:
            share[taken[cat.name]] -= 1
        others = [p for p in self.params if p is not cat]
        points = []
        for c in levels:
            points += [{cat.name: c, **pt} for pt in self._hypercube(share[c], others, rng)]
        rng.shuffle(points)  # interleave the choices, so a budget cut short still leaves each one tried
        return [{p.name: pt[p.name] for p in self.params} for pt in points]

    @staticmethod
    def _hypercube(n: int, params: list["Param"], rng) -> list[dict[str, Any]]:
        columns = {}
        for p in params:
            strata = list(range(n))
            rng.shuffle(strata)
            columns[p.name] = [p.at((k + rng.random()) / n) for k in strata]
        return [{name: col[i] for name, col in columns.items()} for i in range(n)]

    def params_of(self, cfg: TrainConfig) -> dict[str, Any]:
        """The base config expressed in this space (enqueued as trial 0: tuning never ends worse than planning)."""
        current = {"learning_rate": cfg.learning_rate, "effective_batch": cfg.effective_batch(),
                   "num_train_epochs": cfg.num_train_epochs, "warmup_ratio": cfg.warmup_ratio,
                   "loraplus_lr_ratio": cfg.loraplus_lr_ratio or 0.0, "lora_rank": cfg.lora_rank}
        return {p.name: p.clamp(current.get(p.name, getattr(cfg, p.name, None))) for p in self.params}

    def apply(self, base: TrainConfig, values: dict[str, Any]) -> TrainConfig:
        """A copy of `base` with the sampled values; the effective batch becomes micro batch x accumulation."""
        upd: dict[str, Any] = {}
        for name, v in values.items():
            if name == "effective_batch":
                micro = min(self.micro_batch, int(v))
                upd["per_device_train_batch_size"] = micro
                upd["gradient_accumulation_steps"] = max(1, math.ceil(int(v) / micro))
            elif name == "loraplus_lr_ratio":
                upd["loraplus_lr_ratio"] = float(v) if v and float(v) > 0 else None
            elif name == "lora_rank":
                upd["lora_rank"] = int(v)
                if base.lora_alpha:  # keep the base's alpha/rank scaling instead of a fixed alpha
                    upd["lora_alpha"] = max(1, int(round(base.lora_alpha * int(v) / base.lora_rank)))
            else:
                upd[name] = v
        data = base.model_dump(exclude_unset=True)  # only keys the user/plan set, so exports stay minimal
        data.update(upd)
        return TrainConfig(**data)


def dims_for_trials(expected_trials: float) -> int:
    """How many dimensions (in PRIORITY order) a budget of about this many trials can search."""
    if expected_trials < 8:
        return 1
    if expected_trials < 16:
        return 3
    if expected_trials < 30:
        return 4
    return len(PRIORITY)


def capacity_may_matter(response_tokens_per_epoch: int | None) -> bool:
    return bool(response_tokens_per_epoch and response_tokens_per_epoch >= CAPACITY_TOKENS)


def build_space(base: TrainConfig, *, expected_trials: float = 30, micro_batch: int | None = None,
                lr_upper: float | None = None, tune_rank: bool = False, search_epochs: bool = True,
                overrides: dict[str, Any] | None = None) -> SearchSpace:
    """The space around `base`. `micro_batch`: the largest micro batch the memory fitter says fits (default: the
    base's). `lr_upper`: half the learning rate where the LR range test's loss blew up (or the sweep's end); it
    becomes the top of the range whether above or below base x 10 (the test measured where training breaks; the
    base value is a rule of thumb), and the range reaches LR_DECADES below it and at least base / 10.
    `search_epochs=False` leaves the epochs at the base's (successive halving over shorter runs: a rung's length
    is the epoch axis, and a config with more epochs would train on more data at every rung and look better there)
    and gives its place in the priority order to the next dimension. `overrides`: name -> (low, high) or [choices]."""
    micro = micro_batch or base.per_device_train_batch_size
    lr = base.learning_rate
    lr_high = lr * LR_SPAN if lr_upper is None else lr_upper
    lr_low = lr / LR_SPAN if lr_upper is None else min(lr / LR_SPAN, lr_high / 10**LR_DECADES)
    eb = base.effective_batch()
    batches = sorted({max(1, int(round(eb * f))) for f in BATCH_FACTORS})
    epochs_high = min(MAX_EPOCHS, max(2, math.ceil(base.num_train_epochs * 2)))
    catalogue = {
        "learning_rate": Param(name="learning_rate", kind="float", low=lr_low, high=max(lr_high, lr_low * 1.01), log=True),
        "effective_batch": Param(name="effective_batch", kind="categorical", choices=batches),
        "num_train_epochs": Param(name="num_train_epochs", kind="int", low=1, high=epochs_high),
        "warmup_ratio": Param(name="warmup_ratio", kind="float", low=0.0, high=0.1),
        "loraplus_lr_ratio": Param(name="loraplus_lr_ratio", kind="categorical", choices=list(LORAPLUS_CHOICES)),
        "lora_rank": Param(name="lora_rank", kind="categorical", choices=list(RANK_CHOICES)),
    }
    order = [n for n in PRIORITY if search_epochs or n != "num_train_epochs"]
    wanted = order[:dims_for_trials(expected_trials)]
    if base.finetuning_type != "lora":
        wanted = [n for n in wanted if n not in ("loraplus_lr_ratio", "lora_rank")]
    elif tune_rank and "lora_rank" not in wanted:
        wanted.append("lora_rank")
    if base.max_steps > 0:  # max_steps overrides epochs in the Trainer: searching epochs would do nothing
        wanted = [n for n in wanted if n != "num_train_epochs"]
    if not tune_rank:
        wanted = [n for n in wanted if n != "lora_rank"]
    for name, spec in (overrides or {}).items():
        if spec is None:  # `--space num_train_epochs=fixed`: keep the base value, do not search it
            wanted = [n for n in wanted if n != name]
            continue
        catalogue[name] = _override_param(name, spec, catalogue.get(name))
        _check_values(base, catalogue[name])
        if name not in wanted:
            wanted.append(name)
    return SearchSpace(params=[catalogue[n] for n in wanted], micro_batch=micro)


def _check_values(base: TrainConfig, param: Param) -> None:
    """Every value a trial may get must make a valid config: checked here, before the study exists, because a bad
    value found by a trial leaves a study whose stored space the corrected command can no longer continue."""
    from pydantic import ValidationError

    values = param.choices if param.kind == "categorical" else [param.low, param.high]
    for v in values:
        if param.name == "effective_batch":
            ok = isinstance(v, int) and not isinstance(v, bool) and v >= 1
            if not ok:
                raise UserError(f"--space effective_batch: {v!r} is not a batch size; give whole numbers >= 1, "
                                "e.g. effective_batch=8,16,32")
            continue
        try:
            TrainConfig.model_validate({**base.model_dump(), param.name: v})
        except ValidationError as e:
            err = e.errors()[0]
            raise UserError(f"--space {param.name}: {v!r} is not a valid value ({err['msg']}); e.g. "
                            f"{param.name}=1e-5:1e-3 for a range or {param.name}=8,16,32 for choices") from None


def _override_param(name: str, spec: Any, default: Param | None) -> Param:
    where = f"--space {name}"
    if name not in TrainConfig.model_fields and name != "effective_batch":
        raise UserError(f"{where}: unknown key. Search over TrainConfig keys (e.g. learning_rate, warmup_ratio, "
                        "lora_rank) or effective_batch.")
    if isinstance(spec, (list, tuple)) and len(spec) == 2 and all(isinstance(x, (int, float)) for x in spec) \
            and not isinstance(spec, list):
        low, high = float(spec[0]), float(spec[1])
        if not low < high:
            raise UserError(f"{where}={low:g}:{high:g}: the range is empty (low must be below high), "
                            f"e.g. {name}={low:g}:{low * 10 if low > 0 else 1:g}")
        is_int = default is not None and default.kind == "int" or (low.is_integer() and high.is_integer()
                                                                    and name not in ("learning_rate", "warmup_ratio"))
        log = name == "learning_rate" or (default is not None and default.log)
        if log and low <= 0:
            raise UserError(f"{where}: a log-scale range needs low > 0 (got {low:g})")
        return Param(name=name, kind="int" if is_int else "float", low=low, high=high, log=log)
    choices = list(spec) if isinstance(spec, (list, tuple)) else [spec]
    if not choices:
        raise UserError(f"{where}: the list of choices is empty; give at least one value, e.g. {name}=8,16")
    return Param(name=name, kind="categorical", choices=choices)


def parse_space_overrides(items: list[str] | None) -> dict[str, Any]:
    """CLI `--space learning_rate=1e-5:1e-3` (range), `--space lora_rank=8,16,32` (choices) or
    `--space num_train_epochs=fixed` (keep the base value)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"--space {item}: write key=low:high or key=a,b,c (e.g. learning_rate=1e-5:1e-3)")
        key, text = (s.strip() for s in item.split("=", 1))
        if not text:
            raise UserError(f"--space {key}=: the range is empty; write {key}=low:high or {key}=a,b,c")
        if text.lower() in ("fixed", "off", "none"):
            out[key] = None
            continue
        try:
            if ":" in text:
                parts = text.split(":")
                if len(parts) != 2 or not all(p.strip() for p in parts):
                    raise UserError(f"--space {item}: a range is low:high, e.g. {key}=1e-5:1e-3")
                out[key] = (float(parts[0]), float(parts[1]))
            else:
                out[key] = [yaml.safe_load(x.strip()) for x in text.split(",") if x.strip()]
                if not out[key]:
                    raise UserError(f"--space {item}: the list of choices is empty")
        except ValueError:
            raise UserError(f"--space {item}: could not read the numbers; e.g. {key}=1e-5:1e-3") from None
    return out
