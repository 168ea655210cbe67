#!/usr/bin/python3
"""geometry_tables.py — the tables of docs/geometry/README.md, from dale's geometry records.

It exists so that the numbers in the write-up are recomputed from the records with one command
(and the claims there can be checked): records of runs trained with `--diag.geometry 1`
(`dale train`/`compare`/`sweep`, any number of files) become Markdown tables on stdout.

    tools/geometry_tables.py runs/geometry/*.jsonl > tables.md     # .jsonl.gz files too

A run is its id and its configuration (as in figures.py); its result is its record with the
highest epoch (a repeated (run, epoch) counts once, the
later line wins); runs that have not finished (no record marked final or diverged) are left out,
with a note on stderr. Runs are grouped by what the experiments vary: variant, learning rule
(algorithm, and sign-freezing for GD), learning rate and initial rank; seeds are pooled.
Tables:
  1. rules: per (variant, rule, lr) runs, final test accuracy (median, min–max), diverged runs,
     and for fc0.Wex and fc1.Wex at the end: KS distance to the fitted log-normal and to the
     fitted normal (median over seeds), log-sd, skewness of ln w, share at the floor, relative
     change ‖W − W₀‖/‖W₀‖;
     the same KS distances at initialization for reference.
  2. ranks: per (variant, rule, lr) and (rank, gain) the relative change of fc0.Wex and fc1.Wex,
     representation change 1 − CKA of fc0 and fc1, effective rank and KS distance to the fitted
     log-normal of fc0.Wex at init and at the end (mean ± sd over seeds, of the runs that neither diverged nor fell silent — a last hidden
     layer with no activity on the fixed batch, whose CKA is undefined — counted apart), and the
     final test accuracy of every run.
A malformed geometry entry leaves that number out, not the run.
Exit codes: 0 success · 2 bad input (a missing or unreadable file, a line that is not JSON, no
geometry records), with one line naming the file.
"""

import argparse
import gzip
import json
import math
import os
import statistics
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from figures import run_identity  # noqa: E402  one rule for what makes a run, shared with the figures


def fail(msg):
    print(f"geometry_tables.py: {msg}", file=sys.stderr)
    sys.exit(2)


def read(paths):
    last = {}  # run -> record with the highest epoch
    first = {}  # run -> epoch-1 record (holds geometry.init)
    for path in paths:
        try:
            with (gzip.open if path.endswith(".gz") else open)(path, "rt", encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            fail(f"{path}: cannot read ({e.strerror or e})")
        for no, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                if no == len(lines):
                    print(f"geometry_tables.py: warning: {path}:{no}: skipping a torn last line", file=sys.stderr)
                    continue
                fail(f"{path}:{no}: not a JSON record")
            if "geometry" not in r and not r.get("diverged"):
                continue
            run = (r.get("run"), run_identity(r))
            if run not in last or r["epoch"] >= last[run]["epoch"]:
                last[run] = r
            if r.get("epoch") == 1 and "geometry" in r:
                first[run] = r
    if not last:
        fail("no record carries geometry (train with --diag.geometry 1)")
    unfinished = [run for run, r in last.items() if not (r.get("final") or r.get("diverged"))]
    if unfinished:
        print(f"geometry_tables.py: leaving out {len(unfinished)} unfinished run(s), e.g. {unfinished[0][0]}",
              file=sys.stderr)
    for run in unfinished:
        del last[run]
    return last, first


def rule(r):
    opt = r["config"]["opt"]
    if opt["algorithm"] == "eg":
        return "EG"
    name = "SGD" if opt["algorithm"] == "sgd" else "AdamW"
    return name + (" (sign-freeze)" if opt.get("gd_signs") == "freeze" else "")


def rank(r):
    return r["config"]["model"].get("init_rank", 0)


def med(xs):
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return statistics.median(xs) if xs else float("nan")


def mean_sd(xs):
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    if not xs:
        return "–"
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{statistics.mean(xs):.3f} ± {sd:.3f}"


def fmt1(x):
    return f"{x:.1f}" if math.isfinite(x) else "–"


def fmt3(x):
    return f"{x:.3f}" if math.isfinite(x) else "–"


def dig(d, *keys):
    """d[k0][k1]…, or None where a level is missing or not an object (a malformed record)."""
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def stat(r, layer, param, key, init=False):
    v = dig(r, "geometry", *(("init",) if init else ()), layer, param, key)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def rules_table(last, first):
    groups = defaultdict(list)
    for run, r in last.items():
        if rank(r) == 0 and r["config"]["model"].get("init_gain", 1.0) == 1.0:
            groups[(r["variant"], rule(r), r["config"]["opt"]["lr"])].append(run)
    out = ["| variant | rule | lr | runs | test acc % median (min–max) | diverged | layer | KS log-normal end (init) "
           "| KS normal end (init) | sd ln w | skew ln w | at floor | rel. change |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (variant, rl, lr), runs in sorted(groups.items()):
        accs = [last[x]["test_acc"] for x in runs]
        div = sum(bool(last[x].get("diverged")) for x in runs)
        for layer in ("fc0", "fc1"):
            rs = [last[x] for x in runs if not last[x].get("diverged")]
            inits = [first[x] for x in runs if x in first]
            cell = lambda k, rr=rs: med([stat(y, layer, "Wex", k) for y in rr])
            celli = lambda k: med([stat(y, layer, "Wex", k, init=True) for y in inits])
            out.append(f"| {variant} | {rl} | {lr:g} | {len(runs)} | {med(accs):.2f} ({min(accs):.2f}–{max(accs):.2f}) "
                       f"| {div} | {layer}.Wex | {cell('ks_lognormal'):.3f} ({celli('ks_lognormal'):.3f}) "
                       f"| {cell('ks_normal'):.3f} ({celli('ks_normal'):.3f}) | {cell('log_sd'):.2f} "
                       f"| {cell('log_skew'):.2f} | {100 * cell('floor_frac'):.2f} % | {cell('rel_change'):.3f} |")
    return "\n".join(out)


def ranks_table(last, first):
    groups = defaultdict(list)
    for run, r in last.items():
        groups[(r["variant"], rule(r), r["config"]["opt"]["lr"])].append(run)
    out = ["| variant | rule | lr | rank | gain | runs | diverged or silent | rel. change fc0.Wex | rel. change fc1.Wex "
           "| 1 − CKA fc0 | 1 − CKA fc1 | erank fc0.Wex init → end | KS log-normal fc0.Wex init → end | test acc % |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (variant, rl, lr), runs in sorted(groups.items()):
        rows = defaultdict(list)
        for x in runs:
            rows[(rank(last[x]), last[x]["config"]["model"].get("init_gain", 1.0))].append(x)
        if len({rk for rk, _ in rows}) < 2:
            continue  # no rank comparison in this group
        for rk, gain in sorted(rows, key=lambda k: (k[0] == 0, k[0], k[1])):
            xs = rows[(rk, gain)]
            # Measures of a network that diverged or whose last hidden layer fell silent (CKA
            # undefined: no activity) describe no learning: they are left out of the means.
            live = [last[x] for x in xs if not last[x].get("diverged")
                    and isinstance(dig(last[x], "geometry", "fc1", "cka"), (int, float))]
            inits = [first[x] for x in xs if x in first]
            cka = lambda layer: [1 - c for c in (dig(y, "geometry", layer, "cka") for y in live)
                                 if isinstance(c, (int, float))]
            er0 = med([stat(y, "fc0", "Wex", "erank", init=True) for y in inits])
            er1 = med([stat(y, "fc0", "Wex", "erank") for y in live])
            ks0 = med([stat(y, "fc0", "Wex", "ks_lognormal", init=True) for y in inits])
            ks1 = med([stat(y, "fc0", "Wex", "ks_lognormal") for y in live])
            out.append(f"| {variant} | {rl} | {lr:g} | {'full' if rk == 0 else rk} | {gain:g} | {len(xs)} "
                       f"| {len(xs) - len(live)} "
                       f"| {mean_sd([stat(y, 'fc0', 'Wex', 'rel_change') for y in live])} "
                       f"| {mean_sd([stat(y, 'fc1', 'Wex', 'rel_change') for y in live])} "
                       f"| {mean_sd(cka('fc0'))} | {mean_sd(cka('fc1'))} | {er0:.1f} → {fmt1(er1)} "
                       f"| {ks0:.3f} → {fmt3(ks1)} "
                       f"| {mean_sd([last[x]['test_acc'] for x in xs])} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("records", nargs="+", help="JSON Lines files of runs trained with --diag.geometry 1")
    args = ap.parse_args()
    last, first = read(args.records)
    print("## Learning rules\n")
    print(rules_table(last, first))
    print("\n## Initial rank\n")
    print(ranks_table(last, first))


if __name__ == "__main__":
    main()
