# Two commands do all set-up on a fresh machine:
#   make run   - start the dashboard on the bundled demo data
#   make test  - run every test
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test setup bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(PY) -m crmflow.serve $(ARGS)

# Two workers (CI has 2 cores). loadgroup keeps each xdist_group on one worker:
# tests/conftest.py puts the tests sharing a module-scoped fixture in one group.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

bench: $(STAMP)
	$(PY) -m bench.run --sizes 1m,10m --repeat 5

clean:
	rm -rf $(VENV) .pytest_cache
