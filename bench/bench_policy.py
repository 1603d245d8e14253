"""Parsing the policy Markdown into the document model, and rendering it to Kivy markup."""

from __future__ import annotations

from pathlib import Path

from ._harness import Figure, measure

REPO = Path(__file__).resolve().parents[1]
SEED = REPO.parent / "shared" / "seed" / "000_105f4bc9759c57dd.txt"
DEMO = REPO / "demo_app" / "policy" / "policy.md"


def run() -> list[Figure]:
    from sdk.policy.document import parse_policy

    figures = []
    for name, path in (("seed policy", SEED), ("demo policy", DEMO)):
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        figures.append(measure(f"parse_policy({name}, {len(text.encode()) // 1024} KiB)",
                               lambda t=text: parse_policy(t)))
        try:
            from sdk.ui.kivy.markup import render_document
        except ImportError:
            continue
        doc = parse_policy(text)
        figures.append(measure(f"render_document({name})", lambda d=doc: render_document(d)))
        from sdk.ui.kivy import markup

        blocks = render_document(doc)

        def line_breaks_all(blocks=blocks) -> None:
            markup._units.cache_clear()  # the first layout of a policy: nothing cached yet
            for block in blocks:
                markup.line_breaks(block, 500.0, lambda t, bold: 15.0 * len(t))

        figures.append(measure(f"line_breaks UAX #14, cold ({name})", line_breaks_all, runs=5,
                               note="uniseg 0.8; 0.9+ takes ~50x longer"))
    big = (SEED.read_text(encoding="utf-8") if SEED.exists() else DEMO.read_text(encoding="utf-8")) * 4
    figures.append(measure(f"parse_policy(x4, {len(big.encode()) // 1024} KiB)",
                           lambda: parse_policy(big), runs=5))
    return figures
