"""`import sdk` must stay cheap: compared with an empty interpreter start."""

from __future__ import annotations

from ._harness import Figure, child

#: figure id -> the id of its baseline (None: no baseline)
FIGURES = {"python_pass": None, "import_sdk": "python_pass"}


def run(quick: bool = False) -> list[Figure]:
    runs = 5 if quick else 15
    base = child("python_pass", "python -c pass", "pass", runs)
    sdk = child("import_sdk", "python -c 'import sdk'", "import sdk", runs)
    sdk.note = f"+{sdk.median_ms - base.median_ms:.1f} ms over an empty start"
    return [base, sdk]
