import pytest
from tune_helpers import small_config


@pytest.fixture
def tune_config(tiny_model_dir, tmp_path):
    return small_config(tiny_model_dir, tmp_path)
