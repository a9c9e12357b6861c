# Jindu: `make run` serves the demo on http://127.0.0.1:8000, `make test` runs the suite.
# Needs only Python >= 3.11 on the machine; everything else goes into .venv from the
# pinned requirements files. See README.md.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# The first interpreter >= 3.11 found, unless PYTHON is given (make run PYTHON=python3.12).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
VAR := $(or $(JINDU_VAR_DIR),var)
CITY ?= $(or $(JINDU_DEMO_CITY),460100)
# pytest arguments. Default: one worker per core (pytest-xdist), each test module kept on
# one worker so module-scoped fixtures run once. Serial: make test PYTEST_ARGS=
# A subset: make test PYTEST_ARGS="-k jobs".
PYTEST_ARGS ?= -n auto --dist loadfile
CHROMIUM ?= /usr/bin/chromium

STATIC_SOURCES := $(shell find jindu -path '*/static/*' -type f 2>/dev/null)

.PHONY: help run serve prepare test bench clean

help:
	@echo "make run    create .venv, install, migrate $(VAR)/, load Haikou and the demo world, serve on :8000"
	@echo "make test   the whole suite (SQLite; PostgreSQL when DATABASE_URL is set)"
	@echo "make bench  python -m jindu.bench scope (SQLite; and PostgreSQL when DATABASE_URL is set)"
	@echo "make clean  remove .venv, caches and test output (keeps $(VAR)/ and its data)"

$(PY):
	@test -n "$(PYTHON)" || { echo "Jindu needs Python >= 3.11 (python3.11, python3.12 or python3.13 on PATH)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamp files: pip runs again only when a requirements file changes.
$(VENV)/.requirements.stamp: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.requirements-dev.stamp: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.requirements.stamp

$(VAR)/static/.stamp: $(VENV)/.requirements.stamp jindu/settings.py $(STATIC_SOURCES)
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@touch $@

# Idempotent: running `make run` again keeps the data (loads update, never duplicate).
prepare: export JINDU_DEMO = 1
prepare: $(VENV)/.requirements.stamp
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_divisions --city $(CITY)
	$(PY) manage.py seed_demo
	@$(MAKE) --no-print-directory $(VAR)/static/.stamp

run: export JINDU_DEMO = 1
# The demo's published passwords make a second factor pointless there; production keeps it on.
run: export JINDU_ENFORCE_OTP ?= 0
run: prepare
	$(PY) scripts/run.py

# Serve without preparing again (data already loaded).
serve: export JINDU_DEMO = 1
serve: export JINDU_ENFORCE_OTP ?= 0
serve: $(VENV)/.requirements.stamp
	$(PY) scripts/run.py

test: $(VENV)/.requirements-dev.stamp
	@if [ -x "$(CHROMIUM)" ]; then echo "browser tests: $(CHROMIUM)"; \
	else echo "browser tests will be skipped: $(CHROMIUM) is missing (apt-get install -y chromium)"; fi
	@if [ -n "$$DATABASE_URL" ]; then echo "database: DATABASE_URL ($${DATABASE_URL%%:*})"; else echo "database: SQLite"; fi
	JINDU_CHROMIUM=$(CHROMIUM) $(PY) -m pytest -q $(PYTEST_ARGS)

bench: $(VENV)/.requirements.stamp
	$(PY) -m jindu.bench scope

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis test-results
	find . -name __pycache__ -type d -prune -not -path './node_modules/*' -exec rm -rf {} +
