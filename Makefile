# The two quick-start commands (README). `.ci/run` calls `make test`.
.PHONY: demo test unit

demo:  ## install, then run the main job on the embedded default (SmolLM2-135M + bundled support dataset)
	bash scripts/setup.sh && bash scripts/demo.sh

test:  ## install with test extras, then run the whole test suite
	bash scripts/setup.sh test && .venv/bin/python -m pytest -q

unit:  ## fast unit tests only (no real model)
	.venv/bin/python -m pytest -q -m "not integration and not slow"
