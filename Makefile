# Two commands do everything:  make demo   and   make test
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DATA   ?= demo-data
SHOTS  ?= screenshots

.PHONY: demo test audit sysdeps venv bench clean

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

# Checks the packages the SDK ships (pyproject's runtime dependencies and kivy extra as installed,
# buildozer.spec's pins) for known vulnerabilities with pip-audit. Exit status 1: a finding,
# 2: not a pass (not audited); docs/security.md, MASVS-CODE-3. .ci/run passes
# AUDIT_FLAGS=--allow-not-audited.
AUDIT_FLAGS ?=
audit: venv
	@$(PY) scripts/dependency_audit.py $(AUDIT_FLAGS)

bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(DATA) $(SHOTS) .pytest_cache
