# The front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENVS ?= .venvs
HOST := $(VENVS)/host/bin
FRAMEWORKS ?= keras torch jax
# Extra pip options for the framework environments, e.g. PyTorch's CPU wheel index:
#   make venvs PIP_EXTRA="--extra-index-url https://download.pytorch.org/whl/cpu"
PIP_EXTRA ?=
ITERATIONS ?= 35
CAMPAIGN_ARGS ?=
CAMPAIGN ?= $(lastword $(sort $(wildcard results/*/campaign.json)))

.PHONY: help venvs host-venv framework-venvs test lint format build campaign report clean \
	bench-workloads bench-meters data

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

venvs: host-venv framework-venvs  ## create .venvs/host and one environment per framework

host-venv: $(VENVS)/host/.installed
$(VENVS)/host/.installed: requirements/host.txt pyproject.toml
	$(PYTHON) -m venv $(VENVS)/host
	$(HOST)/pip install -q --upgrade pip
	$(HOST)/pip install -q -r requirements/host.txt
	$(HOST)/pip install -q --no-deps -e .
	touch $@

framework-venvs: $(foreach f,$(FRAMEWORKS),$(VENVS)/$(f)/.installed)
# Each framework environment gets exactly its image's pinned requirements, and a .pth file
# that puts images/common and images/<framework> on its path: the same code the image runs.
$(VENVS)/%/.installed: images/%/requirements.txt
	$(PYTHON) -m venv $(VENVS)/$*
	$(VENVS)/$*/bin/pip install -q --upgrade pip
	$(VENVS)/$*/bin/pip install -q $(PIP_EXTRA) -r images/$*/requirements.txt
	$(VENVS)/$*/bin/python -c "import site,sys; open(site.getsitepackages()[0]+'/fwenergy-workload.pth','w').write(sys.argv[1]+'\n'+sys.argv[2]+'\n')" "$(CURDIR)/images/common" "$(CURDIR)/images/$*"
	touch $@

test: venvs  ## run the whole test suite (what CI runs)
	$(HOST)/python -m pytest $(PYTEST_ARGS)

lint: host-venv  ## ruff and mypy
	$(HOST)/ruff check .
	$(HOST)/ruff format --check .
	$(HOST)/mypy

format: host-venv  ## apply ruff's formatting and safe fixes
	$(HOST)/ruff check --fix .
	$(HOST)/ruff format .

data: host-venv  ## prepare a dataset into data/NAME (DATASET=mnist|fashion-mnist|synthetic, SOURCE=dir)
	$(HOST)/orchestrator data prepare --dataset $(or $(DATASET),mnist) $(if $(SOURCE),--source $(SOURCE)) --out data/$(or $(DATASET),mnist)

bench-workloads: venvs  ## images/second of each framework, same data, same threads
	$(HOST)/python benchmarks/workloads.py $(BENCH_ARGS)

bench-meters: host-venv  ## host CPU cost and latency of each meter's sampling
	$(HOST)/python benchmarks/meter_overhead.py $(BENCH_ARGS)

clean:  ## remove environments and caches (keeps results/)
	rm -rf $(VENVS) .pytest_cache .mypy_cache .ruff_cache *.egg-info
