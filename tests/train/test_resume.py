"""Kill a run with SIGKILL mid-epoch, resume it with `tiaocan train --resume`: same end as an uninterrupted run."""
import json
import signal
import subprocess
import sys
import textwrap

import pytest
import yaml

from train_helpers import read_log

KILL_AT = 6  # checkpoint-4 exists by then and the first epoch (10 steps) is not over


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(base_cfg, tmp_path):
    cfg = dict(base_cfg, per_device_train_batch_size=2, gradient_accumulation_steps=2, num_train_epochs=2,
               learning_rate=5e-3, save_steps=4, save_total_limit=3)
    # 40 examples / 2 per micro-batch / 2 accumulation = 10 steps per epoch, 20 in total.
    ref_cfg = dict(cfg, output_dir=str(tmp_path / "ref"))
    run_cfg = dict(cfg, output_dir=str(tmp_path / "run"))
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(run_cfg))

    driver = tmp_path / "driver.py"  # the CLI's own train(), plus a callback that SIGKILLs the process
    driver.write_text(textwrap.dedent(f"""
        import os, signal, sys
        from transformers import TrainerCallback
        from tiaocan.training import train

        class Kill(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):
                if state.global_step == {KILL_AT}:
                    os.kill(os.getpid(), signal.SIGKILL)

        train(sys.argv[1], callbacks=[Kill()], quiet=True)
    """))
    r = subprocess.run([sys.executable, str(driver), str(tmp_path / "run.yaml")], capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoint-4").is_dir() and not (tmp_path / "run" / "run_summary.json").exists()

    cli = "import sys; from tiaocan.cli import main; sys.argv = ['tiaocan', 'train', *sys.argv[1:]]; main()"
    r = subprocess.run([sys.executable, "-c", cli, str(tmp_path / "run.yaml"), "--resume", "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]

    from tiaocan.training import RunSummary, train

    ref = train(ref_cfg, quiet=True)
    resumed = RunSummary.read(tmp_path / "run")
    assert resumed.global_step == ref.global_step == 20
    assert resumed.final_train_loss == pytest.approx(ref.final_train_loss, abs=1e-3)
    # the log has each step once (entries past the checkpoint were re-run, not duplicated)
    steps = [row["current_steps"] for row in read_log(tmp_path / "run") if "loss" in row]
    assert steps == list(range(1, 21))
    ref_losses = [row["loss"] for row in read_log(tmp_path / "ref") if "loss" in row]
    run_losses = [row["loss"] for row in read_log(tmp_path / "run") if "loss" in row]
    assert run_losses == pytest.approx(ref_losses, abs=1e-3)
