"""Thread choice: the cores the process has, split between tune workers, busy cores left alone, user wins."""
import os
import subprocess
import sys

from tiaocan.threads import choose_threads, configure_threads


def test_idle_machine_uses_every_core():
    c = choose_threads(1, cores=2, busy=0.0)
    assert (c.threads, c.passive) == (2, False)


def test_busy_core_is_left_alone_and_threads_do_not_spin():
    c = choose_threads(1, cores=2, busy=1.0)
    assert (c.threads, c.passive) == (1, True)
    assert choose_threads(1, cores=8, busy=3.1).threads == 5


def test_workers_split_the_cores():
    assert choose_threads(2, cores=2, busy=0.0).threads == 1
    assert choose_threads(4, cores=16, busy=0.0).threads == 4
    assert choose_threads(3, cores=2, busy=0.0).threads == 1


def test_user_settings_win(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert configure_threads() is None and os.environ["OMP_NUM_THREADS"] == "3"
    monkeypatch.setenv("TIAOCAN_THREADS", "1")
    assert configure_threads().threads == 1 and os.environ["OMP_NUM_THREADS"] == "1"


def test_cli_sets_threads_before_torch_starts(tmp_path):
    """In a fresh process without OMP_NUM_THREADS, `tiaocan train` leaves torch at the chosen count."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "TIAOCAN_THREADS", "MKL_NUM_THREADS")}
    env["TIAOCAN_THREADS"] = "1"
    code = ("import sys; sys.argv=['tiaocan','train','--help']\n"
            "from tiaocan.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "import os, torch; print('T', os.environ['OMP_NUM_THREADS'], torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "T 1 1" in out.stdout, out.stdout + out.stderr
