"""Values defined once (config.py) and read everywhere: the loss band, its parser, truncation/cutoff checks."""
import pytest

from tiaocan.config import LOSS_BAND, TRUNCATIONS, build_config, check_window, parse_band
from tiaocan.errors import UserError


def test_one_loss_band_for_plan_and_diagnose():
    from tiaocan.diagnosis.signals import DEFAULT_BAND
    from tiaocan.diagnosis.types import RunDiagnosis
    from tiaocan.planning.rules.epochs import BAND

    assert tuple(BAND) == DEFAULT_BAND == RunDiagnosis.model_fields["band"].default == LOSS_BAND


def test_band_parsed_the_same_in_config_and_cli():
    from tiaocan.cli.diagnose_cmd import parse_band as cli_parse

    for text in ("0.5,1.0", "[0.5, 1.0]", "(0.5,1.0)"):
        assert parse_band(text) == cli_parse(text) == build_config({"stop_loss_band": text}).stop_loss_band
    for bad in ("1.4,0.7", "x", "1,2,3"):
        with pytest.raises(ValueError):
            parse_band(bad)
        with pytest.raises(UserError, match="--band"):
            cli_parse(bad)
        with pytest.raises(UserError, match="stop_loss_band"):
            build_config({"stop_loss_band": bad})


def test_truncation_and_cutoff_checked_by_the_config_rules():
    from typing import get_args

    from tiaocan.config import TrainConfig

    assert get_args(TrainConfig.model_fields["truncation"].annotation) == TRUNCATIONS
    with pytest.raises(UserError, match="--truncation 'nope'"):
        check_window(None, "nope", ("--cutoff-len", "--truncation"))
    with pytest.raises(UserError, match="cutoff_len 4"):
        check_window(4, "drop")
    with pytest.raises(UserError, match="cutoff_len"):
        build_config({"cutoff_len": 4})


def test_public_functions_are_plain_functions_after_importing_every_stage():
    """Importing a stage's package must not replace the public function of the same name (no module tricks)."""
    import types

    import tiaocan
    import tiaocan.diagnosis  # noqa: F401
    import tiaocan.evaluation  # noqa: F401
    import tiaocan.explanation  # noqa: F401
    import tiaocan.exporting  # noqa: F401
    import tiaocan.planning  # noqa: F401
    import tiaocan.training  # noqa: F401
    import tiaocan.tuning  # noqa: F401

    for name in ("inspect", "plan", "train", "diagnose", "tune", "evaluate", "explain", "export"):
        assert isinstance(getattr(tiaocan, name), types.FunctionType), name
    assert tiaocan.explain("learning_rate", "en")[0].param == "learning_rate"
