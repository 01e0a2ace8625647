# gonghui: `make demo` serves the seeded demo city; `make test` runs everything on PostgreSQL and SQLite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    ?= .venv
BIN     := $(VENV)/bin
# Django 6.x needs Python 3.12+: take the first interpreter of 3.13/3.12 that runs (pyenv keeps
# them under ~/.pyenv/versions on this kind of machine), else python3 (then Django 5.2 LTS).
PYTHON  ?= $(shell for p in python3.13 python3.12 $$HOME/.pyenv/versions/3.13*/bin/python3 $$HOME/.pyenv/versions/3.12*/bin/python3 python3; do \
             if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1; then echo $$p; break; fi; done)
STAMP   := $(VENV)/.installed
PG_URL  ?= postgres://postgres@127.0.0.1:5432/postgres
TEST_PG_DB ?= gonghui_test
DEMO_DB ?= sqlite:///$(CURDIR)/var/demo.sqlite3
GONGHUI := $(BIN)/gonghui

.PHONY: help install demo test lint migrations-check test-pg test-sqlite pg-up browser-deps screenshots messages seed clean

help:
	@echo "make demo   set up, seed the demo city on SQLite and serve it at http://127.0.0.1:8000"
	@echo "make test   set up and run ruff, the migration check and the suite on PostgreSQL and SQLite"

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "make: no Python 3.11+ found"; exit 2; }
	@echo "==> creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

messages: install
	@if command -v msgfmt >/dev/null; then cd gonghui && ../$(GONGHUI) compilemessages -l zh_Hans -v 0; fi

demo: install messages
	@mkdir -p var
	DATABASE_URL=$(DEMO_DB) $(GONGHUI) migrate --noinput -v 0
	DATABASE_URL=$(DEMO_DB) $(GONGHUI) demo seed --if-empty
	DATABASE_URL=$(DEMO_DB) $(GONGHUI) demo drive --if-empty
	DATABASE_URL=$(DEMO_DB) $(GONGHUI) demo contests --if-empty
	DATABASE_URL=$(DEMO_DB) $(GONGHUI) demo logins
	@echo "==> serving the demo city at http://127.0.0.1:8000  (Ctrl-C stops)"
	DATABASE_URL=$(DEMO_DB) $(GONGHUI) runserver --insecure 127.0.0.1:8000

lint: install
	$(BIN)/ruff check gonghui bench

migrations-check: install
	GONGHUI_VAR_DIR=$(CURDIR)/var $(GONGHUI) makemigrations --check --dry-run

# PostgreSQL must answer; if it does not, try to start this machine's cluster, else stop with one line.
pg-up:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { \
	  (command -v pg_ctlcluster >/dev/null && pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start) >/dev/null 2>&1; \
	  for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "make test: PostgreSQL is not answering on 127.0.0.1:5432 and could not be started"; exit 1; }; }

# The browser test drives Debian's Chromium; install it when it is missing (never `playwright install`).
# A CJK font too, or pages and screenshots show boxes instead of Chinese characters.
browser-deps:
	@test -x /usr/bin/chromium || { echo "==> installing Debian's chromium for the browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || { echo "make test: could not install chromium (apt-get install chromium)"; exit 1; }; }
	@fc-list :lang=zh 2>/dev/null | grep -q . || { echo "==> installing a Chinese font (fonts-wqy-microhei) for the browser"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null) \
	  || { echo "make test: could not install a Chinese font (apt-get install fonts-wqy-microhei)"; exit 1; }; }

# Refresh the screenshots kept in docs/screenshots/ (the browser tests write to var/screenshots/ otherwise).
screenshots: install messages browser-deps
	GONGHUI_SCREENSHOTS=$(CURDIR)/docs/screenshots DATABASE_URL=sqlite:///$(CURDIR)/var/shots.sqlite3 $(BIN)/pytest -p no:cacheprovider -m browser

test-pg: install pg-up browser-deps
	@echo "==> test suite on PostgreSQL"
	DATABASE_URL=$(PG_URL) TEST_DATABASE_NAME=$(TEST_PG_DB) $(BIN)/pytest -p no:cacheprovider

test-sqlite: install browser-deps
	@echo "==> test suite on SQLite"
	DATABASE_URL=sqlite:///$(CURDIR)/var/test.sqlite3 $(BIN)/pytest -p no:cacheprovider

test: install messages lint migrations-check test-pg test-sqlite
	@echo "==> all checks passed on PostgreSQL and SQLite"

clean:
	rm -rf $(VENV) var/*.sqlite3*
