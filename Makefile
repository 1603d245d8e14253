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
# buildozer.spec's pins at the pinned versions) for known vulnerabilities with pip-audit; the
# reviewed exceptions are in scripts/audit-ignore.toml (docs/security.md, MASVS-CODE-3). The
# script exits 1 on a finding and 2 when it is not a pass (a package not audited without an
# entry, a stale entry, no answer from the service); make then exits 2 in both cases (make's
# status for any failing recipe), and its "Error N" line shows the script's status.
# AUDIT_FLAGS: more options for the script, e.g. AUDIT_FLAGS='--timeout 30'.
AUDIT_FLAGS ?=
audit: venv
	@$(PY) scripts/dependency_audit.py $(AUDIT_FLAGS)

bench: venv
	$(PY) -m bench

# build/: what python -m demo_app.bundle stages for buildozer (a copy of the server's CA and pins)
clean:
	rm -rf $(VENV) $(DATA) $(SHOTS) build .pytest_cache
