"""The files a search leaves: the best config as tiaocan and LLaMA-Factory YAML, the optional `--final` retrain,
tune_report.html and tune_result.json."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import TrainConfig, save_config
from .report import write_report
from .results import TuneResult
from .search import Search
from .space import SearchSpace


def write_outputs(result: TuneResult, search: Search, space: SearchSpace) -> None:
    """best_config.yaml, the LLaMA-Factory export, the --final retrain, tune_report.html and tune_result.json."""
    out = search.out
    out.mkdir(parents=True, exist_ok=True)
    if result.best_trial is not None:
        best = space.apply(search.base, result.best_params)
        result.outputs["best_config"] = str(save_config(best, out / "best_config.yaml", include_defaults=False))
        result.outputs["best_llamafactory"] = _llamafactory(best, out)
        if search.opts.final:
            result.final_run = _final(best.model_copy(update={"per_device_eval_batch_size": space.micro_batch}), out,
                                      search.opts.quiet)
            result.outputs["final_run"] = str(out / "final")
    result.outputs["report"] = str(write_report(result, out / "tune_report.html"))
    (out / "tune_result.json").write_text(json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False),
                                          encoding="utf-8")
    result.outputs["result"] = str(out / "tune_result.json")


def _llamafactory(cfg: TrainConfig, out: Path) -> str:
    """The best config as `tiaocan export --to llamafactory` writes it (template by rendering, dataset_info.json)."""
    from ..exporting import export_config

    res = export_config(cfg.model_copy(update={"output_dir": "saves/tiaocan-tuned"}), "llamafactory", out / "llamafactory")
    return res.files[0]


def _final(best: TrainConfig, out: Path, quiet: bool) -> dict[str, Any]:
    """Retrain the best configuration to full length, with the normal eval cadence and the plot (and the trials'
    eval batch size, so its eval loss is comparable with theirs)."""
    from ..training import train

    cfg = best.model_copy(update={"output_dir": str(out / "final")})
    return train(cfg, overwrite=True, quiet=quiet).model_dump(mode="json")
