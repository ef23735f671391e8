# Outbound: `make run` serves the live demo, `make test` runs the suite on both backends.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run demo-reset test test-embedded test-real lint schema bench bench-quick clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(PY) server.py

# Start the demo over (only the demo workspace; .venv and any other workspace stay). Restart `make run` after.
demo-reset: $(STAMP)
	$(PY) server.py demo --reset

test: $(STAMP) lint
	$(PY) -m pytest --backend embedded
	$(PY) -m pytest --backend real

test-embedded: $(STAMP)
	$(PY) -m pytest --backend embedded

test-real: $(STAMP)
	$(PY) -m pytest --backend real

lint: $(STAMP)
	$(VENV)/bin/ruff check .

schema: $(STAMP)
	$(PY) -c "from schema import build_schema; open('schema.graphql', 'w').write(build_schema().as_str() + '\n')"

bench: $(STAMP)
	$(PY) -m bench

bench-quick: $(STAMP)
	$(PY) -m bench --quick

clean:
	rm -rf $(VENV) outbound.sqlite3*
