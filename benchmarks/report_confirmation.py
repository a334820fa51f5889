"""The confirmation part of ``results.md`` (issue #10): what confirming the top configurations
on fresh seeds did in each confirmed study, and whether its winner re-trains better than the
unconfirmed pick at the same compute, under every search seed.

Figures are the workload's final validation metric (lower is better); margins are the other's
re-trained mean minus the confirmed winner's (positive: confirmation better).
"""

from __future__ import annotations

from typing import Any

from harness.markdown import DASH, header, num, row
from report_goals import confirmation_compare

CONFIRMED_ORDER = ("autolr", "autolr_half")
CONFIRM_TEXT = (
    "**Comparison** (issue #10): the fresh-seed quality of the confirmed winner against the "
    "unconfirmed pick. `autolr` (the default) keeps part of its budget to re-run its top "
    "configurations and the constant baseline on fresh seeds and returns the best mean; its "
    "winner, re-trained on the 3 seeds 7001-7003, is set against (i) `autolr_unconfirmed`, the "
    "ladder at the same total compute with `confirm=0` (the whole budget on the search, the "
    "single best full-length run wins), and (ii) the same study's *luckiest* run, its best "
    "full-length search run, which it would have returned without confirming (re-trained on the "
    "same seeds). \"Within the seed spread\" as above."
)


def _versus(margin: float, beyond: bool) -> str:
    """A margin in words, from the confirmed winner's side."""
    if margin == 0:
        return "equal"
    word = "better" if margin > 0 else "**worse**"
    return f"{word} by {_margin(margin)}{'' if beyond else ' (within the seed spread)'}"


def _margin(margin: float) -> str:
    """``0.0041``; a margin too small for 4 decimals in 2 significant digits."""
    return f"{abs(margin):.4f}" if abs(margin) >= 5e-5 else f"{abs(margin):.2g}"


def _confirmed_name(configuration: dict[str, Any]) -> str:
    """A confirmed configuration in a word: its family, or which baseline it is."""
    if configuration.get("baseline"):
        return f"{configuration['baseline']} baseline"
    return configuration["summary"].split("(")[0]


def _plan_text(record: dict[str, Any]) -> str:
    k, m = record["plan"]
    baseline = any(c.get("baseline") == "constant" for c in record["configurations"])
    return (f"{len(record['runs'])} runs: top {k}{' and the constant baseline' if baseline else ''}"
            f" on {m} fresh seed{'s' if m != 1 else ''}")


def _against_text(record: dict[str, Any]) -> str:
    """The confirmed winner minus the constant baseline on the same seeds, in words."""
    against = record.get("against_baseline")
    if against is None:
        return "— (the winner is the constant baseline)" if record["winner"].get(
            "baseline") == "constant" else DASH
    error = against["standard_error"]
    shown = f" ± {error:.2g}" if error is not None else ""
    return (f"{against['difference']:+.4f}{shown} "
            f"({'within' if against['within_noise'] else 'beyond'} noise)")


def study_table(results: dict[str, Any]) -> list[str]:
    """What confirmation did in each confirmed study of this run."""
    lines = header(["workload", "study", "confirmation runs", "confirmed winner",
                    "its mean ± std over its seeds, in the study",
                    "the other confirmed configurations' means",
                    "winner minus the constant baseline (paired, same seeds)",
                    "the luckiest run (its value in the search)", "winner changed"])
    for name, workload in results["workloads"].items():
        for key in CONFIRMED_ORDER:
            m = workload["methods"].get(key)
            if m is None:
                continue
            record = m.get("confirmation")
            if not record:
                lines.append(row([name, m["label"], "none (the budget buys no confirmation)",
                                  *[""] * 6]))
                continue
            w, lucky = record["winner"], record["luckiest"]
            rest = ", ".join(
                f"{_confirmed_name(c)} {c['mean']:.4f}"
                for c in sorted(record["configurations"], key=lambda c: c["mean"])
                if c["number"] != w["number"]) or DASH
            lines.append(row([
                name, m["label"], f"{_plan_text(record)} ({record['steps']:,} steps)",
                f"`{w['summary']}`", f"{w['mean']:.4f} ± {w['std']:.4f} ({w['seeds']})", rest,
                _against_text(record), f"`{lucky['summary']}` ({num(lucky['value'])})",
                "**yes**" if record["changed"] else "no",
            ]))
    return lines


def _row_texts(c: dict[str, Any]) -> tuple[str, str, str, str]:
    """One study's comparison in words: the unconfirmed study's figure, the luckiest run's, and
    the confirmed winner against each."""
    unconfirmed, luckiest = c["unconfirmed"], c["luckiest"]
    u_text = (f"{unconfirmed['mean']:.4f} ± {unconfirmed['std']:.4f}"
              if unconfirmed else DASH)
    if not c["confirmed"]:
        l_text, vs_l = DASH, "no confirmation ran"
    elif not c["changed"]:
        l_text, vs_l = "the winner itself", "same configuration"
    elif luckiest:
        l_text = f"{luckiest['mean']:.4f} ± {luckiest['std']:.4f}"
        vs_l = _versus(luckiest["margin"], luckiest["beyond_spread"])
    else:
        l_text, vs_l = DASH, DASH
    vs_u = _versus(unconfirmed["margin"], unconfirmed["beyond_spread"]) if (
        unconfirmed) else DASH
    if unconfirmed and unconfirmed.get("same_winner"):
        vs_u += " (the same configuration won)"
    return u_text, l_text, vs_u, vs_l


def _tally_text(tally: dict[str, int], half_cases: list[str]) -> str:
    """The comparison over every study and seed, in one paragraph."""
    changed = (f"; where it did, the confirmed winner re-trained better than the luckiest "
               f"run in {tally['lucky_better']} of {tally['changed']}"
               if tally["changed"] else "")
    half = (f" At N/2 it changed the winner in {tally['half_changed']} of {tally['half']}"
            + (": " + "; ".join(half_cases) if half_cases else "") + "."
            if tally["half"] else "")
    return (f"Confirmation changed the winner in {tally['changed']} of {tally['studies']} "
            f"studies at N{changed}.{half} Against the unconfirmed study at equal compute the "
            f"confirmed winner re-trained better in {tally['better']} of {tally['vs']} "
            f"({tally['beyond']} beyond the seed spread; worse beyond it in "
            f"{tally['worse_beyond']}); in {tally['same']} of {tally['vs']} both studies returned "
            "the same configuration.")


def seeds_comparison(results: dict[str, Any], others: list[dict[str, Any]]) -> list[str]:
    """Issue #10's comparison per workload and search seed, and its tally in words."""
    lines = header(["workload, seed", "confirmed winner (`autolr`)",
                    "unconfirmed ladder at equal compute (`autolr_unconfirmed`)",
                    "the same study's luckiest run", "confirmed against the unconfirmed study",
                    "confirmed against the luckiest run"])
    tally = {"studies": 0, "changed": 0, "vs": 0, "better": 0, "beyond": 0, "worse_beyond": 0,
             "lucky_better": 0, "half": 0, "half_changed": 0, "same": 0}
    half_cases: list[str] = []
    for name in results["workloads"]:
        for run in [results, *others]:
            workload = run["workloads"].get(name)
            if workload is None:
                continue
            c = confirmation_compare(workload)
            if "why" in c:
                continue
            unconfirmed, luckiest = c["unconfirmed"], c["luckiest"]
            lines.append(row([f"{name}, {run['meta']['seed']}",
                              f"{c['mean']:.4f} ± {c['std']:.4f}", *_row_texts(c)]))
            if c["confirmed"]:
                tally["studies"] += 1
                tally["changed"] += bool(c["changed"])
                if c["changed"] and luckiest:
                    tally["lucky_better"] += luckiest["margin"] > 0
            if c.get("half_changed") is not None:
                tally["half"] += 1
                tally["half_changed"] += bool(c["half_changed"])
            h = c.get("half_luckiest")
            if h:
                half_cases.append(
                    f"{name} seed {run['meta']['seed']}: `{h['winner']}` re-trained "
                    f"{h['mean']:.4f} ± {h['std']:.4f} against the luckiest run `{h['luckiest']}`"
                    f" at {h['luckiest_mean']:.4f} ± {h['luckiest_std']:.4f}, "
                    f"{_versus(h['margin'], h['beyond_spread'])}")
            if unconfirmed:
                tally["vs"] += 1
                tally["same"] += bool(unconfirmed.get("same_winner"))
                tally["better"] += unconfirmed["margin"] > 0
                tally["beyond"] += unconfirmed["margin"] > 0 and unconfirmed["beyond_spread"]
                tally["worse_beyond"] += (unconfirmed["margin"] < 0
                                          and unconfirmed["beyond_spread"])
    if tally["vs"]:
        lines += ["", _tally_text(tally, half_cases)]
    return lines


def confirmation_tables(results: dict[str, Any], others: list[dict[str, Any]]) -> list[str]:
    """What confirmation did in this run's confirmed studies, and issue #10's comparison under
    every search seed available."""
    return [
        CONFIRM_TEXT, "",
        f"What confirmation did in each confirmed study (this page's seed, "
        f"{results['meta']['seed']}):", "",
        *study_table(results),
        "", "Re-trained on seeds 7001-7003 (mean ± std), under every search seed:", "",
        *seeds_comparison(results, others),
        "",
    ]
