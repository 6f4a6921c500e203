# Two commands on a fresh clone:   make main   (full brainbench-human run on the embedded model)
#                                  make test   (the lint gate, then the test suite, slow tests included, as CI runs it)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The dataset mirror: BRAINBENCH_DATA_DIR if set, else ../shared/data/brainbench if present, else download.
BRAINBENCH_DATA_DIR ?= $(abspath $(wildcard ../shared/data/brainbench))
export BRAINBENCH_DATA_DIR
RUN_DIR ?= runs/smollm2-135m__brainbench-human

.PHONY: setup main lint test
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test,lm-eval,inspect]"
	touch $@

main: setup
	$(BIN)/brainbench run --dataset brainbench-human --out $(RUN_DIR)
	$(BIN)/brainbench summary $(RUN_DIR)

# Debian packages the tests use for real: a headless browser and a PostgreSQL server (installed when root).
TEST_PACKAGES := $(if $(shell command -v chromium),,chromium) $(if $(wildcard /usr/lib/postgresql/*/bin/pg_ctl),,postgresql)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup lint
	@[ -z "$(strip $(TEST_PACKAGES))" ] || [ "$$(id -u)" != 0 ] || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_PACKAGES) >/dev/null)
	$(BIN)/python -m pytest --runslow -q --durations=15
