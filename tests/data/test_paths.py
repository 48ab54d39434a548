"""A data path is a path: brackets, commas and symlinks load exactly that file or say why not."""
import json
import os

import pytest

from tiaocan.data import load_dataset
from tiaocan.errors import DataError, UserError


def _write(path, n, answer="A"):
    path.write_text("".join(json.dumps({"instruction": f"Q{i}", "output": f"{answer}{i}"}) + "\n" for i in range(n)),
                    encoding="utf-8")
    return path


def test_brackets_are_not_a_glob(tmp_path):
    _write(tmp_path / "faq1.jsonl", 7)
    _write(tmp_path / "faq[12].jsonl", 3)
    assert len(load_dataset(str(tmp_path / "faq[12].jsonl"))) == 3
    assert len(load_dataset(str(_write(tmp_path / "good[v2].jsonl", 2)))) == 2
    assert len(load_dataset(str(_write(tmp_path / "star*?.jsonl", 4)))) == 4


def test_comma_in_a_file_name_is_one_file(tmp_path):
    path = _write(tmp_path / "a,b.jsonl", 5)
    assert len(load_dataset(str(path))) == 5
    # two real files separated by a comma are still two datasets
    one, two = _write(tmp_path / "one.jsonl", 2), _write(tmp_path / "two.jsonl", 3)
    assert len(load_dataset(f"{one},{two}")) == 5


def test_symlink_loop_and_broken_link(tmp_path):
    loop = tmp_path / "loop.jsonl"
    os.symlink(loop, loop)
    with pytest.raises(UserError, match="symlink loop"):
        load_dataset(str(loop))
    broken = tmp_path / "broken.jsonl"
    os.symlink(tmp_path / "gone.jsonl", broken)
    with pytest.raises(UserError, match="broken symlink"):
        load_dataset(str(broken))


def test_llama_factory_folder_asks_for_a_name(tmp_path):
    _write(tmp_path / "train.jsonl", 3)
    _write(tmp_path / "test.jsonl", 2)
    (tmp_path / "dataset_info.json").write_text(json.dumps({"support": {"file_name": "train.jsonl"}}))
    with pytest.raises(DataError, match=r"LLaMA-Factory dataset folder.*known: support.*dataset_dir"):
        load_dataset(str(tmp_path))
    (tmp_path / "dataset_info.json").unlink()
    with pytest.raises(DataError, match=r"test.jsonl .*would train on the held-out data"):
        load_dataset(str(tmp_path))


def test_gbk_file_is_named_with_the_fix(tmp_path):
    gbk = tmp_path / "zh.jsonl"
    gbk.write_bytes((json.dumps({"instruction": "退货政策是什么？", "output": "三十天内可退货。"}, ensure_ascii=False)
                     + "\n").encode("gbk"))
    with pytest.raises(UserError, match=r"zh.jsonl is not UTF-8 .*GBK/GB18030.*iconv -f GB18030"):
        load_dataset(str(gbk))
    csv = tmp_path / "zh.csv"
    csv.write_bytes("instruction,output\n退货政策,三十天\n".encode("gbk"))
    with pytest.raises(UserError, match=r"zh.csv is not UTF-8"):
        load_dataset(str(csv))


def test_gbk_yaml_config_is_named(tmp_path):
    from tiaocan.config import load_config

    cfg = tmp_path / "plan.yaml"
    cfg.write_bytes("# 学习率\nlearning_rate: 1.0e-4\n".encode("gbk"))
    with pytest.raises(UserError, match=r"plan.yaml is not UTF-8 \(line 1.*GB18030"):
        load_config(cfg)
