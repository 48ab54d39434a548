"""UI strings in English and Chinese. Labels go through Gradio's I18n (the browser's language picks them);
texts the server writes (summaries, tables) take the page's language switch, `lang` = "en" | "zh"."""
from __future__ import annotations

S: dict[str, tuple[str, str]] = {
    "title": ("tiaocan 调参 — fine-tuning hyperparameters", "tiaocan 调参 — 微调超参数"),
    "lang": ("Language of plan reasons and findings", "理由与诊断的语言"),
    "tab_data": ("1 · Data", "1 · 数据"),
    "tab_plan": ("2 · Plan", "2 · 方案"),
    "tab_train": ("3 · Train", "3 · 训练"),
    "tab_runs": ("4 · Runs", "4 · 运行记录"),
    "tab_tune": ("5 · Tune", "5 · 调参搜索"),
    "tab_eval": ("6 · Eval", "6 · 评测"),
    "data_file": ("Data: a file, or a dataset name from dataset_info.json", "数据：文件，或 dataset_info.json 中的数据集名"),
    "upload": ("Upload a data file (json, jsonl, csv, parquet)", "上传数据文件（json、jsonl、csv、parquet）"),
    "dataset_dir": ("Folder with dataset_info.json", "dataset_info.json 所在目录"),
    "model": ("Model", "模型"),
    "gpu": ("GPU (empty: detect)", "GPU（留空：自动检测）"),
    "inspect": ("Inspect data", "分析数据"),
    "histogram": ("Token lengths", "token 长度分布"),
    "cutoffs": ("cutoff_len options", "cutoff_len 选项"),
    "topics": ("Topics", "主题"),
    "method": ("Method", "方法"),
    "make_plan": ("Make plan", "生成方案"),
    "plan_table": ("Plan — edit a value; what depends on it is re-derived", "方案 — 修改数值，依赖项自动重新推导"),
    "param": ("Parameter", "参数"),
    "value": ("Value", "值"),
    "set": ("Set", "设定"),
    "reset": ("Reset to the plan", "恢复方案默认值"),
    "memory": ("Memory per device", "每卡显存"),
    "export_fmt": ("Export as", "导出格式"),
    "export": ("Export YAML", "导出 YAML"),
    "exported": ("Exported files", "导出文件"),
    "to_train": ("Train this plan →", "用此方案训练 →"),
    "run_name": ("Run name (folder under --runs)", "运行名称（--runs 下的目录）"),
    "max_steps": ("Max steps (0: as planned)", "最大步数（0：按方案）"),
    "start": ("Start", "开始"),
    "stop": ("Stop", "停止"),
    "resume": ("Resume", "继续"),
    "job": ("Job", "任务"),
    "refresh": ("Refresh", "刷新"),
    "config": ("Configuration to run", "将要运行的配置"),
    "curves": ("Loss", "损失曲线"),
    "log": ("Output", "输出日志"),
    "runs": ("Runs under --runs", "--runs 下的运行"),
    "new_run": ("New run from the suggested config →", "用建议配置新建运行 →"),
    "suggested": ("Suggested next config", "建议的下一版配置"),
    "budget": ("Budget: full runs (5x), wall time (30m) or tokens (2M-tokens)", "预算：完整运行次数（5x）、时间（30m）或 token 数（2M-tokens）"),
    "max_trials": ("Max trials (0: budget only)", "最多试验数（0：只看预算）"),
    "trials": ("Trials", "试验"),
    "best_cfg": ("Train the best config →", "用最佳配置训练 →"),
    "eval_run": ("Run to evaluate", "要评测的运行"),
    "test_file": ("Test set (with reference answers)", "测试集（含参考答案）"),
    "with_base": ("Also evaluate the base model", "同时评测基座模型"),
    "max_samples": ("Rows to evaluate (0: all)", "评测行数（0：全部）"),
    "failures": ("Failures", "失败样例"),
    "topic": ("Topic", "主题"),
    "train_rows": ("Training examples in this topic", "该主题的训练样例"),
    "add_user": ("New example: question", "新样例：问题"),
    "add_assistant": ("New example: answer", "新样例：回答"),
    "add": ("Add example", "添加样例"),
    "retrain": ("Retrain with the edited data →", "用修改后的数据重新训练 →"),
}


def i18n():
    import gradio as gr

    en = {k: v[0] for k, v in S.items()}
    zh = {k: v[1] for k, v in S.items()}
    return gr.I18n(en=en, zh=zh, **{"zh-CN": zh, "zh-TW": zh})


def L(key: str):
    """A label the browser translates (gr.I18n(...)(key) without needing the I18n instance)."""
    from gradio.i18n import I18nData

    assert key in S, key
    return I18nData(key)


def t(key: str, lang: str) -> str:
    """The same string rendered on the server, in the page's language."""
    en, zh = S[key]
    return zh if lang == "zh" else en


def tr(lang: str, en: str, zh: str) -> str:
    return zh if lang == "zh" else en
