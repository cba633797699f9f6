# kpitool: `make report` runs the main job on the bundled sample data, `make test` the tests.
# Both set up what they need first (a .venv with the spark extra and, on Debian, the CJK
# fonts, poppler, HarfBuzz's subsetter and, when no java is on PATH, OpenJDK 17 for Spark).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
MONTH  ?= 2015-03
APT_PACKAGES := fonts-noto-cjk poppler-utils libharfbuzz-subset0 faketime chromium

.DEFAULT_GOAL := help
.PHONY: help setup system-packages test lint bench report check screenshots sample-data clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

setup: $(VENV)/.installed system-packages  ## Create .venv, install kpitool with dev tools and system packages

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $@

system-packages:  ## Install the Debian packages kpitool needs (CJK fonts, poppler, Java) when missing
	@missing=""; for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

test: setup  ## Run the test suite
	$(BIN)/python -m pytest -q

lint: setup  ## ruff, mypy and the import contracts (docs/architecture.md)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/mypy --strict benchmarks
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_architecture.py

check: setup  ## kpitool data check on the bundled sample data
	$(BIN)/kpitool data check --data sample_data

report: setup  ## The main job: every branch's report for MONTH (default 2015-03) from the sample data
	$(BIN)/kpitool report --month $(MONTH)

screenshots: setup  ## Headless Chromium screenshots of B03's page and the company's at 1366 and 390 px: out/screenshots/
	$(BIN)/kpitool -q report --month $(MONTH) --branch B03 --format html --out out/screenshots
	for w in 1366 390; do for p in B03 index; do \
	  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=$$w,2400 \
	    --screenshot=out/screenshots/$$p-$$w.png file://$(CURDIR)/out/screenshots/$(MONTH)/$$p.html 2>/dev/null; \
	done; done

sample-data: setup  ## Regenerate sample_data/ (seed 7, 8 branches, 2015)
	$(BIN)/kpitool sample-data --out sample_data --seed 7 --branches 8 --year 2015

bench: setup  ## Benchmarks at provincial scale; writes benchmarks/results.md
	$(BIN)/python benchmarks/run.py

clean:  ## Remove the venv, caches and out/
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
