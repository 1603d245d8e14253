"""Parsing the policy Markdown into the document model, and rendering it to Kivy markup.

The seed policy lives outside the repository (``../shared/seed``); without it its figures
are reported as skipped and the x4 figure uses the demo policy."""

from __future__ import annotations

from pathlib import Path

from ._harness import Figure, measure

REPO = Path(__file__).resolve().parents[1]
SEED = REPO.parent / "shared" / "seed" / "000_105f4bc9759c57dd.txt"
DEMO = REPO / "demo_app" / "policy" / "policy.md"
_NOTE = "uniseg 0.8; 0.9+ takes ~50x longer"

#: figure id -> the id of its baseline (None: no baseline)
FIGURES = {
    "parse_seed": None, "render_seed": None, "line_breaks_seed": None,
    "parse_demo": None, "render_demo": None, "line_breaks_demo": None,
    "parse_x4": None,
}


def run(quick: bool = False) -> list[Figure]:
    from sdk.policy.document import parse_policy
    from sdk.ui.kivy import markup
    from sdk.ui.kivy.markup import render_document

    runs = 5 if quick else 15
    figures = []
    for key, name, path in (("seed", "seed policy", SEED), ("demo", "demo policy", DEMO)):
        if not path.exists():
            why = f"{path} is not in this checkout"
            figures += [Figure.skipped(f"parse_{key}", f"parse_policy({name})", why),
                        Figure.skipped(f"render_{key}", f"render_document({name})", why),
                        Figure.skipped(f"line_breaks_{key}", f"line_breaks UAX #14, cold ({name})", why)]
            continue
        text = path.read_text(encoding="utf-8")
        figures.append(measure(f"parse_{key}", f"parse_policy({name}, {len(text.encode()) // 1024} KiB)",
                               lambda t=text: parse_policy(t), runs=runs))
        doc = parse_policy(text)
        figures.append(measure(f"render_{key}", f"render_document({name})",
                               lambda d=doc: render_document(d), runs=runs))
        blocks = render_document(doc)

        def line_breaks_all(blocks=blocks) -> None:
            markup._units.cache_clear()  # the first layout of a policy: nothing cached yet
            for block in blocks:
                markup.line_breaks(block, 500.0, lambda t, bold: 15.0 * len(t))

        figures.append(measure(f"line_breaks_{key}", f"line_breaks UAX #14, cold ({name})",
                               line_breaks_all, runs=3 if quick else 5, note=_NOTE))
    source = SEED if SEED.exists() else DEMO
    big = source.read_text(encoding="utf-8") * 4
    which = "seed" if source == SEED else "demo"
    figures.append(measure("parse_x4", f"parse_policy({which} policy x4, {len(big.encode()) // 1024} KiB)",
                           lambda: parse_policy(big), runs=3 if quick else 5))
    return figures
