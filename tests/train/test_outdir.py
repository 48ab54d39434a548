"""--overwrite deletes only tiaocan's own run files, only after setup succeeded; output_dir never overlaps inputs."""
import shutil

import pytest

from tiaocan.errors import UserError


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_model_folder_is_not_a_run_and_is_never_touched(base_cfg, tiny_model_dir, tmp_path):
    from tiaocan.training import train

    model = tmp_path / "base-model"
    shutil.copytree(tiny_model_dir, model)
    before = _tree(model)
    for overwrite in (False, True):
        with pytest.raises(UserError, match=r"output_dir .*base-model is the model folder"):
            train(dict(base_cfg, model_name_or_path=str(model), output_dir=str(model)), overwrite=overwrite, quiet=True)
    with pytest.raises(UserError, match=r"is inside the model folder"):
        train(dict(base_cfg, model_name_or_path=str(model), output_dir=str(model / "run")), overwrite=True, quiet=True)
    assert _tree(model) == before


def test_other_model_folder_as_output_is_refused_even_with_overwrite(base_cfg, tiny_model_dir, tmp_path):
    from tiaocan.training import train

    other = tmp_path / "other-model"
    shutil.copytree(tiny_model_dir, other)
    before = _tree(other)
    with pytest.raises(UserError, match=r"is not a tiaocan run but holds .*config.json.*Choose a new folder"):
        train(dict(base_cfg, output_dir=str(other)), overwrite=True, quiet=True)
    assert _tree(other) == before


def test_output_dir_containing_the_data_is_refused(base_cfg, train_file, tmp_path):
    from tiaocan.training import train

    with pytest.raises(UserError, match=r"contains the dataset file"):
        train(dict(base_cfg, output_dir=str(train_file.parent)), quiet=True)
    with pytest.raises(UserError, match=r"output_dir .* is the dataset file"):
        train(dict(base_cfg, output_dir=str(train_file)), quiet=True)


def test_overwrite_keeps_user_files_and_waits_for_a_valid_setup(base_cfg, tmp_path):
    from tiaocan.training import train

    run = tmp_path / "run"
    train(dict(base_cfg, max_steps=1), quiet=True)
    (run / "README.md").write_text("# my project notes\n")
    (run / "runs").mkdir()
    (run / "runs" / "keep.txt").write_text("another run")
    (run / "notes.txt").write_text("mine")
    before = _tree(run)
    # a mistyped model: nothing is deleted, because the model is loaded before the old run is cleared
    with pytest.raises(UserError):
        train(dict(base_cfg, max_steps=1, model_name_or_path=str(tmp_path / "nope")), overwrite=True, quiet=True)
    assert _tree(run) == before
    train(dict(base_cfg, max_steps=2), overwrite=True, quiet=True)
    assert (run / "notes.txt").read_text() == "mine"
    assert (run / "runs" / "keep.txt").read_text() == "another run"
    assert (run / "README.md").read_text() == "# my project notes\n"
    assert (run / "run_summary.json").is_file()


def test_resume_on_a_finished_run_trains_nothing(base_cfg, tmp_path):
    from tiaocan.training import RunSummary, train

    cfg = dict(base_cfg, max_steps=2, save_steps=1)
    first = train(cfg, quiet=True)
    summary_before = (tmp_path / "run" / "run_summary.json").read_bytes()
    again = train(cfg, resume=True, quiet=True)
    assert again.global_step == first.global_step == 2
    assert (tmp_path / "run" / "run_summary.json").read_bytes() == summary_before
    assert RunSummary.read(tmp_path / "run").stop_reason == "completed"
