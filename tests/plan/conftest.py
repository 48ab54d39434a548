import pytest

from tiaocan.planning import DataFacts


@pytest.fixture
def facts():
    """500 examples, ~300 tokens each, half of it response — a typical small SFT set."""
    return DataFacts(num_examples=500, mean_tokens=300, p99_tokens=900, max_tokens=1500,
                     recommended_cutoff_len=960, total_tokens=150_000, total_response_tokens=75_000)
