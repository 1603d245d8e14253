"""``python -m bench.table [JSON]``: print the Markdown table of a ``python -m bench`` result
(default ``bench/results/latest.json``); ``--update-docs`` puts it into ``docs/performance.md``
between the ``bench-table`` markers instead (refused for a ``--quick`` result)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOC = HERE.parent / "docs" / "performance.md"
BEGIN = "<!-- bench-table: begin (python -m bench.table --update-docs) -->"
END = "<!-- bench-table: end -->"
_MEMORY = {"tracemalloc": "", "child_peak_rss": " (RSS)"}


def _num(value: float | None, digits: int) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(results: dict) -> str:
    """The Markdown: one line saying when and where, then one row per figure."""
    m = results.get("machine", {})
    memory = f"{m['memory_mib'] / 1024:.0f} GiB" if m.get("memory_mib") else "? GiB"
    load = ""
    if m.get("load_avg_1m_at_start") is not None:
        load = (f", load average {m['load_avg_1m_at_start']}"
                f"–{m.get('load_avg_1m_at_end', '?')} (1 min)")
    lines = [
        f"Run {results.get('when', '?')}{' (--quick)' if results.get('quick') else ''}: "
        f"{m.get('cores', '?')} cores ({m.get('cpu') or m.get('arch', '?')}), {memory}, "
        f"{m.get('os', '?')}, Python {m.get('python', '?')}, SQLite {m.get('sqlite', '?')}{load}; "
        f"{results.get('seconds', '?')} s in all. Schema {results.get('schema_version', 1)}.",
        "",
        "| figure | what | median ms | runs | ratio to baseline | peak KiB | note |",
        "|---|---|---:|---:|---|---:|---|",
    ]
    for rows in results["figures"].values():
        for r in rows:
            ratio = "" if r.get("ratio") is None else f"**{r['ratio']:.2f}x** `{r['baseline']}`"
            peak = _num(r.get("peak_kib"), 1)
            if r.get("peak_kib") is not None:
                peak += _MEMORY.get(r.get("memory", ""), "")
            lines.append(f"| `{r['id']}` | {_cell(r['name'])} | {_num(r.get('median_ms'), 3)} | "
                         f"{r['runs']} | {ratio} | {peak} | {_cell(r.get('note', ''))} |")
    return "\n".join(lines) + "\n"


def update_doc(table: str, doc: Path = DOC) -> None:
    """Replace the text between the markers in *doc* with *table*.

    Raises:
        ValueError: the markers are missing.
    """
    text = doc.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{doc} has no '{BEGIN}' ... '{END}' block")
    doc.write_text(text[:start + len(BEGIN)] + "\n" + table + text[end:], encoding="utf-8")


def table_ids(doc: Path = DOC) -> list[str]:
    """The figure ids in the table of *doc* (first column, in backquotes)."""
    text = doc.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    block = text[start:end] if 0 <= start < end else ""
    return [line.split("`")[1] for line in block.splitlines()
            if line.startswith("| `")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.table", description=__doc__)
    parser.add_argument("json", nargs="?", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument("--update-docs", action="store_true",
                        help="write the table into docs/performance.md (not for a --quick result)")
    args = parser.parse_args(argv)
    results = json.loads(args.json.read_text(encoding="utf-8"))
    if results.get("schema_version") != 2:
        parser.error(f"{args.json}: schema_version {results.get('schema_version')}, expected 2; "
                     "run python -m bench again")
    if args.update_docs and results.get("quick", True) is not False:
        parser.error(f"{args.json} is a --quick run (smaller sizes, for trying changes) or does "
                     "not say it is not; docs/performance.md takes only a full run: run "
                     "python -m bench (without --quick) and pass bench/results/latest.json")
    table = render(results)
    if args.update_docs:
        update_doc(table, DOC)
        print(f"updated {DOC}")
    else:
        sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
