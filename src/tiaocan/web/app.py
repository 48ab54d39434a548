"""The Gradio app: six tabs (data → plan → train → runs → tune → eval) over one --runs directory."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from ..fonts import FONT_STACK, MONO_STACK

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

CSS = f"""
body, .gradio-container, .gradio-container * {{ font-family: {FONT_STACK}; }}
.gradio-container code, .gradio-container pre, .gradio-container .cm-editor * {{ font-family: {MONO_STACK}; }}
.tc-summary {{ line-height: 1.7; padding: 6px 2px; }}
.tc-ok {{ color: #0a7a2a; }} .tc-bad {{ color: #b3261e; }}
.tc-error {{ color: #b3261e; background: #fdecea; padding: 8px 12px; border-radius: 6px; }}
.tc-state {{ padding: 1px 8px; border-radius: 9px; background: #eee; }}
.tc-running {{ background: #dbeafe; }} .tc-finished {{ background: #dcfce7; }}
.tc-failed {{ background: #fee2e2; }} .tc-stopped, .tc-stopping {{ background: #fef3c7; }}
.tc-mem .tc-bar {{ position: relative; display: flex; height: 22px; border-radius: 4px; overflow: hidden;
  background: #f1f1f1; margin: 4px 0; }}
.tc-mem .tc-budget {{ position: absolute; top: 0; bottom: 0; width: 2px; background: #b3261e; }}
.tc-mem .tc-legend span {{ margin-right: 12px; font-size: 12px; white-space: nowrap; }}
.tc-mem .tc-legend i {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; }}
.tc-finding {{ margin: 4px 0; }} .tc-critical summary {{ color: #b3261e; }} .tc-warning summary {{ color: #a15c00; }}
.tc-table td, .tc-table th {{ padding: 2px 10px; border-bottom: 1px solid #ddd; }}
"""


def build_app(runs: str | Path):
    import gradio as gr

    from . import data_tab, eval_tab, plan_tab, runs_tab, train_tab, tune_tab
    from .common import Ctx
    from .text import L

    runs = Path(runs).resolve()
    runs.mkdir(parents=True, exist_ok=True)
    _annotate()
    ctx = Ctx(runs=runs)
    c = ctx.comp
    with gr.Blocks(title="tiaocan 调参", analytics_enabled=False) as demo:
        with gr.Row(equal_height=True):
            gr.Markdown(f"## {L('title')}")
            c["lang"] = gr.Radio([("English", "en"), ("中文", "zh")], value="en", label=L("lang"), elem_id="lang",
                                 scale=0, min_width=260)
        gr.Markdown(f"<span style='color:#777'>--runs {runs}</span>")
        c["train_config"] = gr.State(None)
        with gr.Tabs() as tabs:
            for tab_id, mod in (("data", data_tab), ("plan", plan_tab), ("train", train_tab), ("runs", runs_tab),
                                ("tune", tune_tab), ("eval", eval_tab)):
                with gr.Tab(L(f"tab_{tab_id}"), id=tab_id, elem_id=f"tab-{tab_id}") as tab:
                    mod.build(ctx)
                c.setdefault("tab_objs", {})[tab_id] = tab
        _wire(ctx, tabs)
        demo.load(_browser_lang, None, c["lang"])
        for fn, out in c.get("on_load", []):
            demo.load(fn, None, out)
        for tab_id, (fn, out) in c.get("on_select", {}).items():
            c["tab_objs"][tab_id].select(fn, None, out)
    return demo


def _browser_lang(request=None) -> str:
    lang = (request.headers.get("accept-language", "") if request is not None else "").lower()
    return "zh" if lang.startswith("zh") else "en"


# gradio passes gr.Request to a parameter annotated with it
def _annotate():
    import gradio as gr

    _browser_lang.__annotations__["request"] = gr.Request


def _wire(ctx, tabs) -> None:
    """The steps that cross tabs: inspect → plan, plan → train, suggestion / best trial → train, eval → retrain."""
    import gradio as gr

    c = ctx.comp
    make, inputs, outputs = c["make_plan"]
    # a new report starts from the plan again: overrides were for the old data
    c["inspect_event"].then(lambda: {}, None, c["overrides"]).then(make, inputs, outputs)
    c["lang"].change(make, inputs, outputs)
    goto = lambda tab: (lambda: gr.Tabs(selected=tab))  # noqa: E731
    c["to_train"].click(goto("train"), None, tabs)
    c["new_run"].click(lambda cfg: cfg, c["suggested_cfg"], c["train_config"]).then(goto("train"), None, tabs)
    c["train_best"].click(lambda cfg, cur: {**(cur or {}), **(cfg or {})}, [c["best_cfg"], c["train_config"]],
                          c["train_config"]).then(goto("train"), None, tabs)
    c["retrain"].click(goto("data"), None, tabs)


def launch(runs: str | Path = "runs", host: str = "127.0.0.1", port: int = 7860, token: str | None = None,
           open_browser: bool = False, quiet: bool = False):
    """Start the server (blocks). Off loopback a token is required: anyone who can reach the port could
    otherwise start training runs and read the data under --runs."""
    runs = Path(runs).resolve()
    # Gradio keeps uploads and served files in its temp dir: keep them under --runs too.
    os.environ.setdefault("GRADIO_TEMP_DIR", str(runs / ".web" / "tmp"))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    from .common import MAX_UPLOAD_MB

    auth, token = auth_for(host, port, token)
    demo = build_app(runs)
    theme = gr.themes.Default(font=[FONT_STACK], font_mono=[MONO_STACK])
    print(f"[tiaocan web] runs: {runs}", flush=True)
    return demo.queue(default_concurrency_limit=4).launch(
        server_name=host, server_port=port, auth=auth, auth_message="tiaocan: the token printed at start",
        inbrowser=open_browser, quiet=quiet, max_file_size=f"{MAX_UPLOAD_MB}mb", allowed_paths=[str(runs / ".web")],
        i18n=_i18n(), theme=theme, css=CSS, footer_links=[], show_error=True)


def auth_for(host: str, port: int, token: str | None):
    """(auth callable or None, token): loopback needs none; any other address gets a token (given or random)."""
    if host in LOCAL_HOSTS:
        return None, None
    token = token or os.environ.get("TIAOCAN_WEB_TOKEN") or secrets.token_urlsafe(18)
    print(f"[tiaocan web] listening on {host}: anyone who can reach port {port} could start runs and read your "
          f"data, so a token is required. Log in with any user name and this token as the password:\n"
          f"    {token}", flush=True)
    return (lambda _user, pw: secrets.compare_digest(str(pw), token)), token


def _i18n():
    from .text import i18n

    return i18n()
