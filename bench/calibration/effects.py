"""What the suite measured beside the learning-rate rule (printed by fit.py): LoRA+ against plain LoRA (the rule's
LoRA+ exponent, planning/rules/learning_rate.LORAPLUS_EXP), other LoRA ranks / alphas, and stopping (the final vs
the best checkpoint, and the loss band replayed on the logged train curves)."""
from __future__ import annotations

import math
from collections import defaultdict

from measured import loss_at, optimum, score


def loraplus_pairs(cs: dict) -> list[dict]:
    """Every LoRA+ curve with its plain-LoRA twin (same model, task, batch, epochs): both optima, both best measured
    losses, and k in lr*(LoRA+) = lr*(plain) x ratio^-k."""
    out = []
    for (model, task, batch, lp, ep), pts in sorted(cs.items()):
        plain = cs.get((model, task, batch, 0, ep))
        if not lp or not plain:
            continue
        (lr_p, _, where_p), (lr_l, _, where_l) = optimum(plain), optimum(pts)
        out.append(dict(model=model, task=task, batch=batch, ratio=lp, epochs=ep, pts=pts, lr_p=lr_p, lr_l=lr_l,
                        where_p=where_p, where_l=where_l, k=-math.log(lr_l / lr_p) / math.log(lp),
                        loss_p=min(p[1] for p in plain), loss_l=min(p[1] for p in pts)))  # measured, not the parabola's
    return out


def loraplus_exponent(pairs: list[dict]) -> float | None:
    """The rule's LoRA+ exponent (planning/rules/learning_rate.LORAPLUS_EXP): the mean k over the pairs (loraplus_pairs)
    whose two optima are both interior; None when there is none."""
    ks = [p["k"] for p in pairs if p["where_p"] == p["where_l"] == "interior"]
    return sum(ks) / len(ks) if ks else None


def loraplus_effect(cs: dict) -> None:
    """LoRA+ against plain LoRA on the same (model, task, batch, epochs): how far LoRA+ moves the best lr (the rule's
    loraplus factor, ratio^-k) and whether it lowers the best loss; then each interior pair predicted from the others'
    k (leave-one-out) against the geometric middle (k = 1/2), read off its LoRA+ curve."""
    pairs = loraplus_pairs(cs)
    for p in pairs:
        print(f"\nLoRA+ {p['ratio']:g} vs plain LoRA, {p['model']} {p['task']} b{p['batch']} e{p['epochs']:g}: best lr "
              f"{p['lr_l']:.3g} ({p['where_l']}) vs {p['lr_p']:.3g} ({p['where_p']}) = x{p['lr_l'] / p['lr_p']:.2f} "
              f"(ratio^-{p['k']:.2f}); best measured loss {p['loss_l']:.3f} vs {p['loss_p']:.3f} "
              f"({100 * (p['loss_l'] - p['loss_p']) / p['loss_p']:+.1f} %)")
    inner = [p for p in pairs if p["where_p"] == p["where_l"] == "interior"]
    if inner:
        print(f"LoRA+ exponent (mean k over {len(inner)} interior pair(s)): {loraplus_exponent(pairs):.2f}")
    for p in pairs:  # each pair predicted from the other pairs' exponent (leave-one-out) and by the middle
        others = [q["k"] for q in inner if q is not p]
        if not others:
            continue
        k = sum(others) / len(others)
        got = [loss_at(p["pts"], p["lr_p"] * p["ratio"] ** -kk) for kk in (k, 0.5)]
        best = min(q[1] for q in p["pts"])
        show = lambda x: "outside the measured lrs" if x is None else f"{100 * (x - best) / best:+.1f} %"  # noqa: E731
        print(f"  held out: {p['model']} {p['task']} b{p['batch']}: the other pairs' k {k:.2f} -> {show(got[0])}; "
              f"the middle (k 0.50) -> {show(got[1])} (vs the LoRA+ curve's best measured {best:.3f})")


def rank_effect(rows: list[dict], cs: dict) -> None:
    """Other LoRA ranks / alphas against the grid's r16 / alpha 32 on the same (model, task, batch, epochs): the rule
    keeps alpha/r x lr constant at a given rank (lr x 32 / alpha) and holds the best lr rank-invariant at fixed alpha
    ("LoRA Without Regret"); these curves test both."""
    by: dict[tuple, list] = defaultdict(list)
    for r in rows:
        if r["kind"] == "rank":
            by[(r["model"], r["task"], r["batch"], r["loraplus"], r["epochs"], r["rank"], r["alpha"])].append(
                (r["lr"], score(r), r))
    for (model, task, batch, lp, ep, rank, alpha), pts in sorted(by.items()):
        plain = cs.get((model, task, batch, lp, ep))
        if not plain:
            continue
        pts.sort(key=lambda p: p[0])
        (lr_p, _, where_p), (lr_r, _, where_r) = optimum(plain), optimum(pts)
        loss_p, loss_r = min(p[1] for p in plain), min(p[1] for p in pts)  # measured, not the parabola's
        curve = ", ".join(f"{p[0]:.3g}→{p[1]:.3f}" for p in pts)
        print(f"\nrank {rank} / alpha {alpha} vs {plain[0][2]['rank']} / {plain[0][2]['alpha']}, {model} {task} "
              f"b{batch} e{ep:g}: {curve}; best lr {lr_r:.3g} ({where_r}) vs {lr_p:.3g} ({where_p}) = "
              f"x{lr_r / lr_p:.2f} (the rule: x{plain[0][2]['alpha'] / alpha:.2f}); best measured loss {loss_r:.3f} vs "
              f"{loss_p:.3f} ({100 * (loss_r - loss_p) / loss_p:+.1f} %)")


def band_replay(r: dict, band: tuple[float, float], has_eval: bool) -> float | None:
    """The held-out loss a run would have ended at under the loss-band stop (training/callbacks.LossWatch, replayed
    on the logged train curve with its own smoothing): once the smoothed train loss is at or below the band's top,
    stop at the first eval that does not improve (with a held-out split) or at once (without one: scored at the next
    eval, the nearest measured point). None when the band never fired (the run is then its final result)."""
    from tiaocan.training.callbacks import StopState

    st, entered = StopState(), None
    for step, loss in r.get("train", []):
        if st.add_train_loss(loss) <= band[1]:
            entered = step
            break
    if entered is None:
        return None
    best = math.inf
    for step, ev in r["evals"]:
        if has_eval:
            if step >= entered and ev >= best:
                return ev
        elif step >= entered:
            return ev
        best = min(best, ev)
    return r["evals"][-1][1]


def stopping(cs: dict) -> None:
    """Final vs best checkpoint near each curve's optimum, and what the loss band would have done."""
    from tiaocan.config import LOSS_BAND

    near, gaps, band_eval, band_none, fired, replayed = 0, [], [], [], 0, 0
    for pts in cs.values():
        lr_star, _, where = optimum(pts)
        for lr, _, r in pts:
            if where == "too few" or abs(math.log2(lr / lr_star)) > 1 or len(r["evals"]) < 2:
                continue
            near += 1
            final, best = r["final_eval"], r["best_eval"]
            gaps.append(100 * (final - best) / best)
            if r.get("train"):
                replayed += 1
                for has_eval, out in ((True, band_eval), (False, band_none)):
                    v = band_replay(r, LOSS_BAND, has_eval)
                    fired += v is not None and has_eval
                    out.append(100 * ((v if v is not None else final) - best) / best)
    if not gaps:
        return
    gaps.sort()
    print(f"\nstopping: {near} grid runs within x2 of their curve's best lr. The last checkpoint was above the best "
          f"one by median {gaps[len(gaps) // 2]:+.1f} %, worst {gaps[-1]:+.1f} %; {sum(g > 0.5 for g in gaps)} of "
          f"{len(gaps)} by more than 0.5 % (keeping the best checkpoint recovers that).")
    if replayed:
        for name, vals in (("with a held-out split", band_eval), ("without one", band_none)):
            vals.sort()
            print(f"  loss band {LOSS_BAND} {name}, replayed on {replayed} runs' train curves (fired on {fired}): "
                  f"result above the best checkpoint by median {vals[len(vals) // 2]:+.1f} %, worst {vals[-1]:+.1f} %")
