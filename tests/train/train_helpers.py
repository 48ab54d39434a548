"""Helpers for the train tests (a unique module name: several test folders have a conftest.py)."""
import json


def read_log(run_dir):
    return [json.loads(line) for line in (run_dir / "trainer_log.jsonl").read_text().splitlines()]
