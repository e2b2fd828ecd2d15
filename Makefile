# The two set-up commands are `make demo` and `make test`; each builds its own .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench schemas clean tools

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . --config-settings editable_mode=compat
	# As pip does for a wheel: with PYTHONDONTWRITEBYTECODE set, nothing else would cache it.
	$(BIN)/python -m compileall -q nexusctl
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash demo/run.sh

test: $(STAMP) lint typecheck tools pytest

tools:
	bash scripts/ensure-chromium.sh

lint: $(STAMP)
	$(BIN)/ruff check nexusctl tests bench
	$(BIN)/ruff format --check nexusctl tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash bench/run_all.sh

schemas: $(STAMP)
	$(BIN)/nexusctl schema export
	$(BIN)/nexusctl schema docs

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
