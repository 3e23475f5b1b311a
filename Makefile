# Two commands for a newcomer: `make run` and `make test`. Both set up .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed

.PHONY: run test lint format bench bench-quick bench-routing worker clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "Serving on http://127.0.0.1:8000  (dashboard: /, API: /api/v2/leads, admin: /admin/)"
	@echo "Emails the app sends are written to sent_emails/ (no mail leaves this machine)."
	@# No broker on the embedded default: periodic jobs (sweeps, SLA checks, rescoring)
	@# run in a side process that stops with the server.
	$(PY) manage.py run_periodic --tick 10 > .run_periodic.log 2>&1 & \
	  trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
	  $(PY) manage.py runserver 127.0.0.1:8000

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Performance harness (issue 6): 10k and 1M leads on PostgreSQL, writes bench/RESULTS.md.
# `make bench ARGS=--quick` (or `make bench-quick`) measures 10k leads only, in about 3 minutes.
bench: $(STAMP)
	$(PY) -m bench $(ARGS)

bench-quick: $(STAMP)
	$(PY) -m bench --quick $(ARGS)

# Routing (issue 11): routing time per lead, round-robin shares, first-to-claim races; writes bench/ROUTING.md.
bench-routing: $(STAMP)
	$(PY) -m bench.routing_run $(ARGS)

worker: $(STAMP)
	$(VENV)/bin/celery -A leadmgmt worker --beat --loglevel=INFO

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
