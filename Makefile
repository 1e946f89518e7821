# The front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENVS ?= .venvs
HOST := $(VENVS)/host/bin
FRAMEWORKS ?= keras torch jax
# Version variants' environments (FRAMEWORK@VERSION -> .venvs/FRAMEWORK-VERSION, pinned in
# images/FRAMEWORK/versions/VERSION/): the one the tests use. Others on request, e.g.
# `make venvs VERSIONS="jax-0.5"` or `make build FRAMEWORKS=jax@0.5`.
VERSIONS ?= jax-0.5 keras-2.18
# Extra pip options for the framework environments.
PIP_EXTRA ?=
# PyTorch's +cpu wheel is not on PyPI: the torch environment (like the torch image) takes it
# from WHEELHOUSE (a folder of wheels) when set, else from PyTorch's CPU index.
TORCH_INDEX_URL ?= https://download.pytorch.org/whl/cpu
# Empty: the campaign's own default (35) or the profile's, e.g. CAMPAIGN_ARGS="--profile quick".
ITERATIONS ?=
CAMPAIGN_ARGS ?=
# Empty: the newest campaign folder under results/, picked in Python: a folder name is data,
# never pasted into a shell line (the recipe reads CAMPAIGN from the environment, quoted).
CAMPAIGN ?=
export CAMPAIGN
# Image builds (make build): the build's network (auto = host when the engine has no bridge,
# as in sandboxes), a folder of wheels for torch's +cpu wheel (defaults to pip's own
# PIP_FIND_LINKS when that is a folder) and any other `orchestrator build` options.
BUILD_NETWORK ?= auto
# cpu, or gpu for the CUDA images (requirements-gpu.txt; tag suffix -gpu).
DEVICE ?= cpu
WHEELHOUSE ?= $(firstword $(wildcard $(PIP_FIND_LINKS)))
BUILD_ARGS ?=
TORCH_WHEELS = $(if $(WHEELHOUSE),--find-links $(WHEELHOUSE),--extra-index-url $(TORCH_INDEX_URL))

.PHONY: help venvs host-venv framework-venvs version-venvs test lint format build campaign report clean \
	bench-workloads bench-keras-pipeline bench-meters data resolve-gpu-pins test-fast

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-21s %s\n", $$1, $$2}'

venvs: host-venv framework-venvs  ## create .venvs/host and one environment per framework

host-venv: $(VENVS)/host/.installed
$(VENVS)/host/.installed: requirements/host.txt pyproject.toml
	$(PYTHON) -m venv $(VENVS)/host
	$(HOST)/pip install -q --upgrade pip
	$(HOST)/pip install -q -r requirements/host.txt
	$(HOST)/pip install -q --no-deps -e .
	touch $@

framework-venvs: $(foreach f,$(FRAMEWORKS),$(VENVS)/$(f)/.installed)
version-venvs: $(foreach v,$(VERSIONS),$(VENVS)/$(v)/.installed)  ## the version variants' environments (VERSIONS)
# An environment's framework and requirements: `jax` -> images/jax/requirements.txt, `jax-0.5`
# (the variant jax@0.5) -> images/jax/versions/0.5/requirements.txt (variants.py's
# requirements_folder says the same).
framework_of = $(word 1,$(subst -, ,$(1)))
version_of = $(word 2,$(subst -, ,$(1)))
requirements_of = images/$(call framework_of,$(1))/$(if $(call version_of,$(1)),versions/$(call version_of,$(1))/)requirements.txt
.SECONDEXPANSION:
# Each framework environment gets exactly its image's pinned requirements, and a .pth file
# that puts images/common and images/<framework> on its path: the same code the image runs.
$(VENVS)/%/.installed: $$(call requirements_of,$$*)
	$(PYTHON) -m venv $(VENVS)/$*
	$(VENVS)/$*/bin/pip install -q --upgrade pip
	$(VENVS)/$*/bin/pip install -q $(PIP_EXTRA) \
		$(if $(filter torch,$(call framework_of,$*)),$(TORCH_WHEELS)) -r $<
	$(VENVS)/$*/bin/python -c "import site,sys; open(site.getsitepackages()[0]+'/fwenergy-workload.pth','w').write(sys.argv[1]+'\n'+sys.argv[2]+'\n')" "$(CURDIR)/images/common" "$(CURDIR)/images/$(call framework_of,$*)"
	touch $@

test: venvs version-venvs  ## run the whole test suite (what CI runs)
	$(HOST)/python -m pytest $(PYTEST_ARGS)

# The inner loop: everything but what needs Docker, the framework environments or Slurm,
# which are hidden from it, so that an unmarked test that needs one fails (tests/conftest.py).
FAST_MARKERS := not docker and not frameworks and not slurm
test-fast: host-venv  ## the tests without Docker, frameworks or Slurm (a few minutes)
	mkdir -p $(VENVS)/none && ln -sfn ../host $(VENVS)/none/host
	FWENERGY_TEST_FAST=1 FWENERGY_VENVS=$(CURDIR)/.venvs/none DOCKER_HOST=unix:///nonexistent \
		SLURM_CONF=/nonexistent $(HOST)/python -m pytest -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

# The GPU pins' resolution on the package index, recorded for the offline test
# (tests/images/test_requirements.py); run it after changing a requirements-gpu.txt.
resolve-gpu-pins: host-venv  ## resolve each image's GPU requirements on PyPI and record the result
	$(HOST)/python tools/resolve_gpu_pins.py

lint: host-venv  ## ruff and mypy
	$(HOST)/ruff check .
	$(HOST)/ruff format --check .
	$(HOST)/mypy

format: host-venv  ## apply ruff's formatting and safe fixes
	$(HOST)/ruff check --fix .
	$(HOST)/ruff format .

data: host-venv  ## prepare a dataset into data/NAME (DATASET=mnist|fashion-mnist|synthetic|cifar10|ag-news|synthetic-cifar10|synthetic-text, SOURCE=dir)
	$(HOST)/orchestrator data prepare --dataset $(or $(DATASET),mnist) $(if $(SOURCE),--source $(SOURCE)) --out data/$(or $(DATASET),mnist)

build: host-venv  ## the framework images (FRAMEWORKS, DEVICE=cpu|gpu, BUILD_NETWORK, WHEELHOUSE, BUILD_ARGS)
	$(HOST)/orchestrator build $(foreach f,$(FRAMEWORKS),--framework $(f)) --device $(DEVICE) \
		--network $(BUILD_NETWORK) \
		$(if $(WHEELHOUSE),--wheelhouse $(WHEELHOUSE)) $(BUILD_ARGS)

campaign: host-venv  ## a campaign (ITERATIONS=35, CAMPAIGN_ARGS="--profile quick --meter rapl" ...)
	$(HOST)/orchestrator campaign $(if $(ITERATIONS),--iterations $(ITERATIONS)) $(CAMPAIGN_ARGS)

report: host-venv  ## analyse the newest campaign (or CAMPAIGN=results/<id>)
	$(HOST)/orchestrator analyze $(if $(CAMPAIGN),"$${CAMPAIGN%campaign.json}",--latest results)

bench-workloads: venvs  ## each workload's images/second as a ratio to an expert's plain loop (BENCH_ARGS="--repeat 5")
	$(HOST)/python benchmarks/workloads.py $(BENCH_ARGS)

bench-keras-pipeline: venvs  ## Keras's end-of-epoch stall with tf.data autotuning on and off (BENCH_ARGS="--repeat 5")
	$(HOST)/python benchmarks/keras_pipeline.py $(BENCH_ARGS)

bench-meters: host-venv  ## host CPU cost and latency of each meter's sampling
	$(HOST)/python benchmarks/meter_overhead.py $(BENCH_ARGS)

clean:  ## remove environments and caches (keeps results/)
	rm -rf $(VENVS) .pytest_cache .mypy_cache .ruff_cache *.egg-info
