# vcnlit: `make install` then `make run`; `make test` runs the test suite.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
EXP     ?= scic_lowres
ARGS    ?=

.PHONY: install run test test-full docs smoke bench tables ablation curves lint clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

install: $(PY)  ## create .venv, install vcnlit (CPU torch pinned by constraints.txt) and build torchac's coder into it
	$(PIP) install --quiet -c constraints.txt -e '.[dev]'
	$(PY) -m vcnlit.codecs.entropy.build

run: ## train + evaluate the default experiment (override: make run EXP=scic_fullres ARGS='seed=1')
	$(PY) -m vcnlit.run +experiment=$(EXP) $(ARGS)

smoke: ## the whole pipeline with tiny nets, a few seconds
	$(PY) -m vcnlit.run +experiment=$(EXP) debug=smoke logger=csv $(ARGS)

bench: ## speed, memory and coding-efficiency benchmarks -> benchmarks/results.json, benchmarks/RESULTS.md (about 10 min); the .vcn container against Lepton, brunsli, JPEG XL -> benchmarks/recompress.json, RECOMPRESS.md (about a minute)
	$(PY) -m benchmarks.run $(ARGS)
	$(PY) -m benchmarks.bench_recompress $(filter --quick,$(ARGS))

# `make tables results_dir=DIR runs_dir=DIR` (or make ablation) passes them on, as ARGS='results_dir=DIR' does
TABLES_VARS = $(foreach v,results_dir runs_dir,$(if $($(v)),$(v)=$($(v))))

tables: ## reproduce the paper's tables into experiments/results/<dataset>/ (ARGS='debug=smoke': <dataset>_debug-smoke/)
	$(PY) experiments/tables.py $(TABLES_VARS) $(ARGS)

ablation: ## gradient proxies x experiments x seeds -> experiments/results/<dataset>/ablation.md (ARGS='debug=smoke': <dataset>_debug-smoke/)
	$(PY) experiments/ablation.py $(TABLES_VARS) $(ARGS)

curves: ## learning curves (steps, data, capacity, crop) -> experiments/results/<dataset>/curves.md (about an hour on 2 cores, ARGS=jobs=2)
	$(PY) experiments/curves.py $(TABLES_VARS) $(ARGS)

test: ## the fast tier: tiny nets, in-process (a few minutes)
	$(PY) -m pytest -q -m "not slow" $(ARGS)

test-full: ## every test, the slow tier included (what CI runs)
	$(PY) -m pytest -q $(ARGS)

lint:
	$(VENV)/bin/ruff check .

clean:
	rm -rf outputs multirun .pytest_cache

docs: ## render the README's and docs' results tables from the committed results files (ARGS=--check: fail when they differ)
	$(PY) -m vcnlit.eval.docs $(ARGS)
