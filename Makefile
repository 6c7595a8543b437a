# Partner back office. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres

.DEFAULT_GOAL := help
.PHONY: help install env migrate demo run test test-pg test-browser bench bench-scale mutate lint fmt check-deploy clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  \033[36m%-14s\033[0m %s\n",$$1,$$2}'

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed ## Create .venv and install pinned dependencies

env: ## Write .env with fresh development keys (never overwrites its keys; `make run` sets its SITE_URL port)
	@$(PYTHON) config/make_env.py $(ENV_ARGS)

migrate: install env ## Apply database migrations
	@mkdir -p var
	$(PY) manage.py migrate --no-input

demo: migrate ## Load demo data (idempotent)
	$(PY) manage.py seed_demo

# Everything `run` sets up follows PORT: .env's SITE_URL (for commands in another shell), the
# webhook seed_demo registers at the Digital River sandbox, and the processes honcho starts.
run: ENV_ARGS = --port $(PORT)
run: export SITE_URL = http://127.0.0.1:$(PORT)
run: demo ## Set up everything, start web + worker (+ embedded sandbox); the logins print once web answers
	@echo "Starting on $(SITE_URL); the logins follow once the web server answers. Ctrl-C stops."
	@# Django reads .env itself; honcho exits 130 after a Ctrl-C, which is the normal way to stop.
	PORT=$(PORT) $(VENV)/bin/honcho start --env /dev/null || [ $$? -eq 130 ]

test: install ## Run the whole test suite on SQLite (browser tests too when chromium is installed)
	$(VENV)/bin/pytest -n 2 --dist loadgroup

test-pg: install ## Run the whole test suite on PostgreSQL ($(PG_URL))
	DATABASE_URL=$(PG_URL) $(VENV)/bin/pytest -n 2 --dist loadgroup

test-browser: install ## Run only the dashboard's browser journeys (needs /usr/bin/chromium; screenshots in test-results/)
	REQUIRE_BROWSER_TESTS=1 $(VENV)/bin/pytest tests/browser -m browser

# Both run; the target fails when either misses a ratio. THROUGHPUT_ARGS="--operations 80" for a bigger round.
bench: install ## Benchmarks with seeded data (renewal run cost, API list queries and time, memory; django-q2 throughput)
	@status=0; $(PY) -m bench.run || status=1; $(PY) -m bench.throughput $(THROUGHPUT_ARGS) || status=1; exit $$status

# PostgreSQL only (COPY, its plans): the same pages at 10,000 subscriptions and at SCALE, in one
# throw-away database; exits 1 on a page past 1.5x or with more queries. SCALE=200000 for a quick run.
SCALE ?= 1000000
bench-scale: install ## Scale bench on PostgreSQL (DATABASE_URL, else PG_URL): every page at 10,000 vs SCALE subscriptions
	DATABASE_URL=$${DATABASE_URL:-$(PG_URL)} $(PY) -m bench.scale --subscriptions $(SCALE)

# Not part of `make test`: every mutant is one pytest run of the rule tests that reach it (minutes).
# The [tool.mutmut] section of pyproject.toml lists the modules and the tests; mutants/ is a copy.
mutate: install ## Mutation testing of the rule modules (mutmut; MODULE=billing/rules.py for one): kill ratio + survivors
	@mkdir -p var
	rm -rf mutants var/mutmut-template*.sqlite3*
	MUTMUT_TEMPLATE_DB=$(CURDIR)/var/mutmut-template.sqlite3 $(VENV)/bin/mutmut run \
		$(if $(MODULE),"$(subst /,.,$(MODULE:.py=)).*") > var/mutmut-run.log 2>&1; \
		status=$$?; grep -a 'mutations/second' var/mutmut-run.log || tail -n 30 var/mutmut-run.log; \
		$(PY) -m bench.mutation_report $(MODULE); exit $$status

lint: install ## ruff lint + format check, missing migrations
	@mkdir -p var
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

fmt: install ## Format and auto-fix with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check-deploy: install ## manage.py check --deploy with production settings (throwaway values)
	DJANGO_READ_DOT_ENV=0 DJANGO_SETTINGS_MODULE=config.settings.production SECRET_KEY=$$(openssl rand -hex 40) \
	SECRET_ENCRYPTION_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet;print(Fernet.generate_key().decode())') \
	DATABASE_URL=postgres://u:p@localhost/db ALLOWED_HOSTS=backoffice.example.com \
	DIGICERT_BASE_URL=https://www.digicert.com/partner-subscription/api/v1 \
	CLOUDFLARE_BASE_URL=https://api.cloudflare.com/client/v4 DIGITALRIVER_BASE_URL=https://api.digitalriver.com \
	DIGITALRIVER_API_KEY=sk_live_x DIGITALRIVER_WEBHOOK_SECRETS=whsec_x \
	$(PY) manage.py check --deploy --fail-level WARNING

clean: ## Remove the virtualenv and the local database
	rm -rf $(VENV) var
