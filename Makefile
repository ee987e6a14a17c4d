# Two commands for users: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
HOST   ?= 127.0.0.1
PORT   ?= 8080
DASHBOARD_PORT ?= 8501

.PHONY: run test lint venv dev-venv serve dashboard bench clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed
dev-venv: $(VENV)/.installed-dev

## make run: set up and start the webhook server (+ dashboard) on the embedded default.
run: venv
	$(PY) -m bot run --host $(HOST) --port $(PORT) --dashboard-port $(DASHBOARD_PORT)

## make test: set up the dev environment and run the whole suite (lint included).
test: dev-venv
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n 2 -q

lint: dev-venv
	$(VENV)/bin/ruff check .

bench: dev-venv
	$(PY) bench/webhook_latency.py
	$(PY) bench/load.py
	$(PY) bench/framework_floor.py
	$(PY) bench/engine_cpu.py
	$(PY) bench/sheets_quota.py
	$(PY) bench/analytics.py
	$(PY) bench/dashboard.py

## make dashboard: only the dashboard (the bot's `make run` starts it too).
dashboard: venv
	$(VENV)/bin/streamlit run streamlit_app.py --server.address $(HOST) --server.port $(DASHBOARD_PORT) --server.headless true --browser.gatherUsageStats false

clean:
	rm -rf $(VENV) .pytest_cache
