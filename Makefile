# Outbound: `make run` serves the live demo, `make test` runs the suite on both backends.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
UV_VERSION := 0.13.9
# One resolution for every Linux/macOS/Windows machine and Python 3.11+, with every file's hash.
COMPILE := $(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--quiet --custom-compile-command "make lock"

.PHONY: run demo-reset test test-embedded test-real test-hosts lint schema bench bench-quick lock clean graphiql-assets screenshots

# The exact versions of requirements.lock (hash-checked), then the project itself without resolving anything;
# `pip check` fails when pyproject.toml asks for something the lock does not have (run `make lock`).
$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r requirements.lock
	$(PY) -m pip install -q --no-deps --no-build-isolation .
	$(PY) -m pip check
	@touch $(STAMP)

$(BENCH_STAMP): requirements-bench.lock $(STAMP)
	$(PY) -m pip install -q --require-hashes -r requirements-bench.lock
	@touch $(BENCH_STAMP)

# Re-resolves after a change to pyproject.toml, keeping every pin that still fits;
# `make lock LOCK_FLAGS=--upgrade` takes the newest versions instead. The bench lock is the main one plus
# the bench extra, constrained to the same versions.
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q uv==$(UV_VERSION)
	$(COMPILE) $(LOCK_FLAGS) --extra dev -o requirements.lock
	$(COMPILE) $(LOCK_FLAGS) --extra dev --extra bench -c requirements.lock -o requirements-bench.lock

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

# Just the across-hosts test (tests/test_hosts.py: two API and two worker hosts in network namespaces; root).
# About 10 s, so `make test` runs it too (the real pass); it starts its own PostgreSQL, Redis and SMTP server.
test-hosts: $(STAMP)
	$(PY) -m pytest --backend real tests/test_hosts.py -s

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

schema: $(STAMP)
	$(PY) -c "from schema.build import build_schema; open('schema.graphql', 'w').write(build_schema().as_str() + '\n')"

bench: $(BENCH_STAMP)
	$(PY) -m bench

bench-quick: $(BENCH_STAMP)
	$(PY) -m bench --quick

# GraphiQL, React and ReactDOM builds, pinned by web/graphiql-build/package-lock.json and committed in
# web/static/vendor/: the server serves them itself, so GraphiQL needs no CDN and no Node at run time.
graphiql-assets:
	cd web/graphiql-build && npm ci --no-audit --no-fund --ignore-scripts
	mkdir -p web/static/vendor
	cp web/graphiql-build/node_modules/graphiql/graphiql.min.js web/graphiql-build/node_modules/graphiql/graphiql.min.css \
	   web/graphiql-build/node_modules/react/umd/react.production.min.js \
	   web/graphiql-build/node_modules/react-dom/umd/react-dom.production.min.js web/static/vendor/
	cp web/graphiql-build/node_modules/graphiql/LICENSE web/static/vendor/LICENSE.graphiql
	cp web/graphiql-build/node_modules/react/LICENSE web/static/vendor/LICENSE.react
	cp web/graphiql-build/node_modules/react-dom/LICENSE web/static/vendor/LICENSE.react-dom

# PNGs of the three tabs and GraphiQL, from the real pages with the demo running (README's walk shows them).
screenshots: $(STAMP)
	$(PY) web/screenshots.py

clean:
	rm -rf $(VENV) outbound.sqlite3*
