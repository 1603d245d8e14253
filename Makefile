# Two commands do everything:  make demo   and   make test
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DATA   ?= demo-data
SHOTS  ?= screenshots

.PHONY: demo test sysdeps venv bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

sysdeps:
	@bash scripts/sysdeps.sh

# Runs the demo app against an embedded stub server. Without a display, runs the scripted
# walkthrough under Xvfb and saves a screenshot of every screen in $(SHOTS)/.
demo: sysdeps venv
	@$(PY) -m demo_app.launch --data-dir $(DATA) --screenshots $(SHOTS)

test: sysdeps venv
	$(PY) -m pytest

bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(DATA) $(SHOTS) .pytest_cache
