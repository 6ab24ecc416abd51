# The two commands a newcomer runs are `make demo` and `make test` (see README.md).
.PHONY: demo test setup setup-dev lint typecheck pytest bench clean

VENV := .venv/bin

setup:
	scripts/bootstrap.sh

setup-dev:
	scripts/bootstrap.sh --dev

demo: setup
	$(VENV)/doorbell demo

test: setup-dev lint typecheck pytest

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

typecheck:
	$(VENV)/mypy

pytest:
	$(VENV)/pytest

bench: setup-dev
	$(VENV)/python bench/run_all.py

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache var
