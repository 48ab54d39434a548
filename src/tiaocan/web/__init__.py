"""`tiaocan web`: the inspect → plan → train → diagnose → tune → eval loop in the browser (Gradio).

Long work runs as separate `tiaocan train|tune|eval` processes whose state lives under --runs (see jobs.py), so a
refresh, a second tab or a closed browser sees the same jobs. Needs the `web` extra: pip install -e .[web]."""
from __future__ import annotations


def launch(*args, **kwargs):
    from .app import launch as _launch

    return _launch(*args, **kwargs)


__all__ = ["launch"]
