# Shortcuts; the README's two commands are scripts/demo.sh and scripts/test.sh (no make needed).
.PHONY: demo test setup lint typecheck webtest pytest bench clean

VENV := .venv/bin

demo:
	scripts/demo.sh

test:
	scripts/test.sh

setup:
	scripts/bootstrap.sh --dev

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/lint-imports

typecheck:
	$(VENV)/mypy
	cd web && npm run typecheck

webtest:
	cd web && npm test

# Two processes: see scripts/test.sh.
pytest:
	$(VENV)/pytest tests/agent
	$(VENV)/pytest --ignore=tests/agent

bench: setup
	$(VENV)/python bench/run_all.py

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache var
