"""The benchmarks' structure, never their speed: no benchmark runs here (issue #8).

- every ``bench/bench_*.py`` is discovered and declares its figures and their baselines;
- ``python -m bench`` refuses a suite whose figures differ from what it declares, and works out
  each ratio to the named baseline;
- the table in docs/performance.md has one row per declared figure, no more, no fewer.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import __main__ as bench_main
from bench import table
from bench._harness import Figure

REPO = Path(__file__).resolve().parents[2]


def test_every_bench_file_is_a_discovered_suite_with_declared_figures():
    files = sorted(p.stem.removeprefix("bench_") for p in (REPO / "bench").glob("bench_*.py"))
    suites = bench_main.discover()
    assert sorted(suites) == files
    for name, module in suites.items():
        assert module.FIGURES, name
        assert callable(module.run), name


def test_the_comparisons_name_their_baselines():
    figures = {suite: module.FIGURES for suite, module in bench_main.discover().items()}
    assert figures["store_10k"]["encrypted_puts"] == "plain_puts"
    assert figures["store_10k"]["encrypted_gets"] == "plain_gets"
    assert figures["upload"]["sealed_upload"] == "plain_put"
    assert figures["import"]["import_sdk"] == "python_pass"
    assert figures["consent"]["cold_decision"] == "python_pass"
    assert figures["rights"]["oplog_write"] == "plain_insert"


def _write_package(root: Path, name: str, modules: dict[str, str]) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for module, text in modules.items():
        (folder / f"{module}.py").write_text(textwrap.dedent(text))
    return folder


def test_discovery_finds_a_new_file_and_refuses_one_without_figures(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    good = """
        FIGURES = {"base": None, "thing": "base"}
        def run(quick=False):
            return []
        """
    folder = _write_package(tmp_path, "fakebench_ok", {"bench_a": good, "bench_b": good,
                                                       "helper": "X = 1"})
    assert list(bench_main.discover(folder, "fakebench_ok")) == ["a", "b"]

    folder = _write_package(tmp_path, "fakebench_bad", {"bench_a": good,
                                                        "bench_c": "def run(quick=False): pass"})
    with pytest.raises(bench_main.BenchError, match="bench_c.py must declare FIGURES"):
        bench_main.discover(folder, "fakebench_bad")

    folder = _write_package(tmp_path, "fakebench_base", {
        "bench_d": "FIGURES = {'x': 'nowhere'}\ndef run(quick=False): pass"})
    with pytest.raises(bench_main.BenchError, match="baseline 'nowhere'"):
        bench_main.discover(folder, "fakebench_base")


def _fig(fid: str, ms: float | None) -> Figure:
    return Figure(fid, f"name of {fid}", ms, 3, 1.5)


def test_collect_works_out_ratios_to_the_named_baseline():
    module = SimpleNamespace(FIGURES={"plain": None, "sealed": "plain", "other": None})
    rows = bench_main.collect("s", module, [_fig("plain", 2.0), _fig("sealed", 5.0),
                                            _fig("other", 1.0)])
    by_id = {r["id"]: r for r in rows}
    assert by_id["s.sealed"]["ratio"] == 2.5
    assert by_id["s.sealed"]["baseline"] == "s.plain"
    assert by_id["s.plain"]["ratio"] is None and by_id["s.plain"]["baseline"] is None
    assert set(rows[0]) >= {"id", "name", "median_ms", "runs", "peak_kib", "memory", "note",
                            "baseline", "ratio"}


def test_collect_keeps_a_skipped_figure_without_a_ratio():
    module = SimpleNamespace(FIGURES={"plain": None, "sealed": "plain"})
    rows = bench_main.collect("s", module, [Figure.skipped("plain", "p", "file missing"),
                                            _fig("sealed", 5.0)])
    assert rows[1]["ratio"] is None
    assert rows[0]["median_ms"] is None and rows[0]["note"] == "skipped: file missing"


@pytest.mark.parametrize("returned", [["plain"], ["plain", "sealed", "extra"],
                                      ["plain", "sealed", "sealed"]])
def test_collect_refuses_figures_that_differ_from_the_declared_ones(returned):
    module = SimpleNamespace(FIGURES={"plain": None, "sealed": "plain"})
    with pytest.raises(bench_main.BenchError, match="FIGURES declares"):
        bench_main.collect("s", module, [_fig(fid, 1.0) for fid in returned])


def test_machine_info_names_cores_and_memory():
    info = bench_main.machine_info()
    assert info["cores"] >= 1
    assert info["memory_mib"] is None or info["memory_mib"] > 0
    assert info["python"] and info["sqlite"]


def _results() -> dict:
    module = SimpleNamespace(FIGURES={"plain": None, "sealed": "plain"})
    rows = bench_main.collect("upload", module, [_fig("plain", 2.0), _fig("sealed", 4.2)])
    return {"schema_version": bench_main.SCHEMA_VERSION, "when": "2026-01-01T00:00:00Z",
            "quick": False, "seconds": 1.0, "machine": bench_main.machine_info(),
            "figures": {"upload": rows}}


def test_table_has_a_row_per_figure_with_the_ratio_and_its_baseline(tmp_path, capsys):
    source = tmp_path / "r.json"
    source.write_text(json.dumps(_results()))
    assert table.main([str(source)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == ["upload.plain", "upload.sealed"]
    assert "**2.10x** `upload.plain`" in rows[1]
    assert "cores" in out.splitlines()[0]


def test_table_refuses_a_result_without_the_schema_version(tmp_path):
    source = tmp_path / "old.json"
    source.write_text(json.dumps({"figures": {}}))
    with pytest.raises(SystemExit):
        table.main([str(source)])


def test_update_docs_replaces_only_the_marked_block(tmp_path):
    doc = tmp_path / "perf.md"
    doc.write_text(f"# P\n\nbefore\n{table.BEGIN}\nold\n{table.END}\nafter\n")
    table.update_doc("| `a.b` | new |\n", doc)
    text = doc.read_text()
    assert "old" not in text and "before" in text and "after" in text
    assert table.table_ids(doc) == ["a.b"]


def test_performance_doc_table_lists_exactly_the_declared_figures():
    """Adding or renaming a figure without running ``make bench`` and
    ``python -m bench.table --update-docs`` fails here."""
    in_doc = table.table_ids(REPO / "docs" / "performance.md")
    declared = bench_main.figure_ids()
    assert len(in_doc) == len(set(in_doc)), "a figure appears twice in docs/performance.md"
    assert sorted(in_doc) == sorted(declared), (
        f"missing from the table: {sorted(set(declared) - set(in_doc))}; "
        f"stale rows: {sorted(set(in_doc) - set(declared))}")


def test_update_docs_refuses_a_quick_result(tmp_path, monkeypatch, capsys):
    doc = tmp_path / "performance.md"
    doc.write_text(f"before\n{table.BEGIN}\nold\n{table.END}\nafter\n", encoding="utf-8")
    monkeypatch.setattr(table, "DOC", doc)
    quick = tmp_path / "quick.json"
    quick.write_text(json.dumps({"schema_version": 2, "quick": True, "figures": {}}),
                     encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        table.main([str(quick), "--update-docs"])
    assert exited.value.code == 2
    assert "--quick" in capsys.readouterr().err
    assert "old" in doc.read_text(encoding="utf-8")
    table.main([str(quick)])  # printing a quick table is fine
    full = tmp_path / "latest.json"
    full.write_text(json.dumps({"schema_version": 2, "quick": False, "figures": {}}),
                    encoding="utf-8")
    table.main([str(full), "--update-docs"])
    assert "old" not in doc.read_text(encoding="utf-8")
