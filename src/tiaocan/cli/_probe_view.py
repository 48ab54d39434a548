"""The plan printout's "measured" section (`tiaocan plan --probe`), and the optional value of `--probe`."""
from __future__ import annotations

from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand

from ._app import console


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def optional_value(args: list[str], flag: str, default: str) -> list[str]:
    """`flag` given bare (last, or followed by another option) gets `default` as its value. typer's parser has no
    optional option values; a negative number still counts as a value, so `--probe -1` reaches the budget check."""
    out: list[str] = []
    for i, a in enumerate(args):
        out.append(a)
        if a == flag:
            nxt = args[i + 1] if i + 1 < len(args) else None
            if nxt is None or (nxt.startswith("-") and not _is_number(nxt)):
                out.append(default)
    return out


class PlanCommand(TyperCommand):
    """`tiaocan plan`, where `--probe` alone means the default budget."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        from ..probing import DEFAULT_BUDGET

        return super().parse_args(ctx, optional_value(list(args), "--probe", str(DEFAULT_BUDGET)))


def show_probe(p) -> None:
    """What the probe measured (each learning rate → held-out loss, tokens, seconds; B_simple), what it chose and why,
    and what it cost as a share of the full run."""
    r = p.probe
    if r is None:
        return
    zh = p.lang == "zh"
    console.print(f"[bold]{'实测' if zh else 'measured'}[/] (plan --probe): {escape(r.summary)}")
    t = Table(show_lines=False)
    for en, cn in (("lr (probe run)", "学习率（探测）"), ("full-run lr", "完整训练学习率"), ("held-out loss", "验证 loss"),
                   ("steps", "步数"), ("tokens", "token"), ("seconds", "秒")):
        t.add_column(cn if zh else en, justify="right")
    for run in sorted(r.runs, key=lambda x: x.learning_rate):
        chosen = r.best_lr is not None and run.learning_rate == r.best_lr
        loss = f"{run.eval_loss:.4f}" if run.eval_loss is not None else run.status
        mark = (" ← 最佳" if zh else " ← best") if chosen else ""
        t.add_row(f"{run.learning_rate:.2e}", f"{run.full_run_lr:.2e}", f"[bold]{loss}[/]{mark}" if chosen else loss,
                  str(run.steps), f"{run.tokens:,}", f"{run.seconds:.0f}")
    if r.runs:
        console.print(t)
    b = r.noise
    if b is not None:
        value = f"{b.b_simple:.3g}" if b.b_simple is not None else ("无法测定" if zh else "not measurable")
        console.print(f"B_simple {value} (|G|² {b.grad_sq:.3g}, tr Σ {b.trace_sigma:.3g}, {b.b_big} "
                      + ("个样本" if zh else "examples") + f"); effective batch {b.planned_batch} → {b.chosen_batch}")
    if r.runs:
        how = f"(transfer x{r.transfer:.2f}: {r.probe_seen:,.0f} → {r.full_seen:,.0f} examples seen)"
    elif r.noise_factor is not None:
        how = (f"（噪声尺度修正 x{r.noise_factor:.2f}，见学习率的理由）" if zh else
               f"(noise-scale correction x{r.noise_factor:.2f}: see the learning rate's reason)")
    else:
        how = "（未实测，见学习率的理由）" if zh else "(not measured: see the learning rate's reason)"
    lines = [f"learning_rate {r.rule_lr:.2e} → [bold green]{r.chosen_lr:.2e}[/] " + how]
    cost = (f"{r.tokens:,} 训练 token = 完整训练的 {r.compute_fraction:.2f}（预算 {r.budget:.2f}），{r.seconds:.0f} 秒"
            if zh else f"{r.tokens:,} training tokens = {r.compute_fraction:.2f} of the full run (budget "
            f"{r.budget:.2f}), {r.seconds:.0f} s")
    lines.append(("用量：" if zh else "compute: ") + cost)
    for line in lines:
        console.print(line)
    for n in r.notes:
        console.print(f"[yellow]{'说明' if zh else 'note'}:[/] {escape(n)}")
