"""Progress for long steps that are not training steps (eval generation, held-out loss, in-training evals):
done / total and the time left. A rich bar on a terminal; in a pipe or log file (where a live bar prints nothing
until it ends) a plain line at the start, then at most every `every_s` seconds, and at the end."""
from __future__ import annotations

import time
from typing import Optional


def fmt_seconds(s: float) -> str:
    s = max(0, int(round(s)))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Lines:
    """The plain-line progress: `advance(n)` prints "desc: done/total unit, ~T left" when due."""

    def __init__(self, console, desc: str, total: int, unit: str = "examples", every_s: float = 10.0):
        self.console, self.desc, self.total, self.unit, self.every_s = console, desc, total, unit, every_s
        self.done = 0
        self.start = self.last = time.perf_counter()

    def begin(self) -> None:
        self.console.print(f"{self.desc}: {self.total} {self.unit}…", highlight=False)

    def line(self, now: float) -> str:
        elapsed = now - self.start
        left = elapsed / self.done * (self.total - self.done) if self.done else None
        tail = (f", ~{fmt_seconds(left)} left" if left is not None and self.done < self.total
                else f" in {fmt_seconds(elapsed)}" if self.done >= self.total else "")
        return f"{self.desc}: {self.done}/{self.total} {self.unit}{tail}"

    def advance(self, n: int) -> None:
        self.done = min(self.total, self.done + n)
        now = time.perf_counter()
        if self.done >= self.total or now - self.last >= self.every_s:
            self.last = now
            self.console.print(self.line(now), highlight=False)


class StepProgress:
    """Context manager yielding `advance(n)`; nothing at all when `enabled` is false."""

    def __init__(self, enabled: bool, total: int, desc: str, unit: str = "examples", console=None):
        self.enabled, self.total, self.desc, self.unit = enabled, total, desc, unit
        self.console = console
        self._bar = None

    def __enter__(self):
        if not self.enabled or self.total <= 0:
            return lambda n: None
        if self.console is None:
            from .console import make_console

            self.console = make_console()
        if not self.console.is_terminal:
            lines = Lines(self.console, self.desc, self.total, self.unit)
            lines.begin()
            return lines.advance
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                             TextColumn(self.unit), TimeRemainingColumn(), console=self.console, transient=True)
        self._bar.__enter__()
        task = self._bar.add_task(self.desc, total=self.total)
        return lambda n: self._bar.advance(task, n)

    def __exit__(self, *exc) -> Optional[bool]:
        if self._bar is not None:
            self._bar.__exit__(*exc)
        return False
