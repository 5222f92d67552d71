# The two commands: `make demo` runs the product, `make test` runs the whole suite.
# Both build .venv/ first; nothing needs to be installed by hand.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --editable '.[worker,dev]'
	touch $(STAMP)

demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "Oversight: http://127.0.0.1:8000  (users admin, senior, reviewer; password \$${DEMO_PASSWORD:-oversight-demo})"
	$(BIN)/python manage.py runserver 127.0.0.1:8000

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
# The layering in pyproject.toml [tool.importlinter]: no cycles, no torch or worker in reviews, no private names across packages.
	$(BIN)/lint-imports
# No module over 400 lines, no function over 60 (tools/sizes.py).
	$(BIN)/python tools/sizes.py
	$(BIN)/python manage.py makemigrations --check --dry-run
# Production settings must pass Django's deployment checklist with no warnings.
	DEBUG=0 ALLOWED_HOSTS=oversight.example.org SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

test: lint
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
