"""Results JSON -> Markdown tables; the tables replace the marked section of benchmarks/README.md.

    python benchmarks/report_md.py [results.json] [--readme benchmarks/README.md]

re-renders the tables from a results file without running anything.

``results.md`` is assembled here from its parts: the quality tables and issue #9's goal
(``report_quality.py``), confirmation (``report_confirmation.py``), the fidelity ladder
(``report_ladder.py``), pruning (``report_pruning.py``) and overhead (``report_overhead.py``).
The same search with other ``--seed`` values, in ``results/seed*/results.json``, adds the
"Other search seeds" tables.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from harness.files import RESULTS, load_json, read_json, write_text  # noqa: E402
from harness.markdown import replace_section, versions_text  # noqa: E402
from report_confirmation import confirmation_tables  # noqa: E402
from report_ladder import ladder_tables  # noqa: E402
from report_overhead import overhead_tables  # noqa: E402
from report_pruning import pruning_summary, pruning_tables  # noqa: E402
from report_quality import GOAL_TEXT, seeds_table, workload_section  # noqa: E402

README = HERE / "README.md"
START = "<!-- results:start (written by benchmarks/run.py; edits here are overwritten) -->"
END = "<!-- results:end -->"


def render(results: dict[str, Any], others: list[dict[str, Any]] | None = None) -> str:
    """``results.md``: the whole results section of the README, between its markers; ``others``
    are the same comparison's runs with other search seeds."""
    meta = results["meta"]
    lines = [
        START,
        "",
        f"Run on {meta['date']} ({meta['mode']} mode, device `{meta['device']}`, "
        f"N = {meta['trials']} (full runs of compute per search), seed {meta['seed']}, "
        f"{meta['jobs']} parallel job(s), {meta['wall_s'] / 60:.1f} min in all) on "
        f"{meta['machine']}; {versions_text(meta['versions'])}; autolr at `{meta['git']}`.",
        "",
    ]
    if meta.get("gpu_note"):
        lines += [meta["gpu_note"], ""]
    lines += ["### Quality at equal and at half the compute", "", GOAL_TEXT, ""]
    for workload in results["workloads"].values():
        lines += workload_section(workload)
    if others:
        lines += ["#### Other search seeds", "", *seeds_table(results, others)]
    if any(w["methods"].get("autolr", {}).get("confirmation") is not None
           or "autolr_unconfirmed" in w["methods"] for w in results["workloads"].values()):
        lines += ["### Confirmation on fresh seeds (issue #10)", "",
                  *confirmation_tables(results, others or [])]
    ladders = [(name, ladder_tables(w)) for name, w in results["workloads"].items()]
    if any(table for _, table in ladders):
        lines += ["### The fidelity ladder", ""]
        for name, table in ladders:
            if table:
                lines += [f"#### {name}", "", *table]
    lines += ["### Pruning", "", *pruning_summary([results, *(others or [])])]
    for name, workload in results["workloads"].items():
        lines += [f"#### {name}", "", *pruning_tables(workload), ""]
    lines += ["### Overhead and parallel scaling", "", *overhead_tables(results), "", END]
    return "\n".join(lines) + "\n"


def update_readme(markdown: str, readme: Path = README) -> None:
    """Replace the marked section of ``readme`` (appending it when the markers are missing)."""
    replace_section(readme, START, END, markdown)


def load_overhead(path: Path = RESULTS / "overhead.json") -> dict[str, Any] | None:
    """``overhead.py``'s results, when they exist (the overhead section quotes them)."""
    return load_json(path)


def load_other_seeds(results: dict[str, Any], folder: Path = RESULTS) -> list[dict[str, Any]]:
    """Full runs in ``folder/seed*/results.json`` with the same settings and another seed."""
    meta, others = results["meta"], []
    for path in sorted(folder.glob("seed*/results.json")):
        other = load_json(path)
        if other is None:
            continue
        m = other.get("meta", {})
        if (m.get("seed") != meta["seed"] and m.get("size") == meta["size"]
                and m.get("trials") == meta["trials"] and m.get("device") == meta["device"]):
            others.append(other)
    return others


def main() -> None:
    """Re-render ``results.md`` (beside the results file) and the README's section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS / "results.json")
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args()
    results = read_json(args.results)
    results["overhead_json"] = load_overhead() or results.get("overhead_json")
    markdown = render(results, load_other_seeds(results, args.results.parent))
    write_text(args.results.with_suffix(".md"), markdown)
    update_readme(markdown, args.readme)
    print(markdown)


if __name__ == "__main__":
    main()
