# Two commands set everything up on a fresh machine: `make app` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
PORT ?= 8501

.PHONY: app test test-fast lint bench screenshots chromium clean

# The pinned requirements, then dpviz itself (editable: the checkout is what runs).
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# Debian's chromium: the browser tests drive it and plotly's PNG/SVG export (kaleido) renders with it.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

app: $(STAMP)
	$(VENV)/bin/streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT)

test: $(STAMP) chromium lint
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not browser"

# The README's screenshots, taken by the browser test as it walks through the app.
screenshots: $(STAMP) chromium
	DPVIZ_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q tests/test_browser.py

bench: $(STAMP)
	$(PY) benchmarks/accounting.py

clean:
	rm -rf $(VENV) .pytest_cache
