# Outbound: `make run` serves the live demo, `make test` runs the suite on both backends.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-embedded test-real lint schema bench bench-quick clean graphiql-assets screenshots

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(PY) server.py

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
