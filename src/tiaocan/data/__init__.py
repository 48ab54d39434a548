"""Data: load any supported dataset into `messages`, render it into ids + labels, inspect it."""
from .load import load_dataset, messages_of
from .render import IGNORE, prompt_ids, render_batch, render_dataset, render_messages, template_info
from .truncate import Window, plan_window

__all__ = ["load_dataset", "messages_of", "render_dataset", "render_batch", "render_messages", "prompt_ids",
           "template_info", "plan_window", "Window", "IGNORE"]
