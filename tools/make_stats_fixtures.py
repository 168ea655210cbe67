#!/usr/bin/python3
"""make_stats_fixtures.py — scipy's Mann-Whitney U p-values as a test fixture for `dale report`.

It exists so that tests/test_stats.cpp can check dale's Mann-Whitney test (tools/dale/stats.cpp)
against the numbers the study's notebooks print: `scipy.stats.mannwhitneyu(x, y)` with its
defaults (two-sided, method="auto", use_continuity=True), and also method="exact" and
method="asymptotic". The C++ test reads the fixture and needs no Python.

Run it with Debian's interpreter (python3-scipy, python3-numpy; the shebang points there):

    tools/make_stats_fixtures.py --out tests/fixtures/mannwhitney.json [--seed 2026]

The samples are accuracy-like numbers (%, normal draws around 86–88) from numpy's
default_rng(seed), with and without ties, sizes 1..30 (3..30 in the size sweep): every pair of
sizes in SIZES, once drawn from one distribution and once with the first sample shifted, once
rounded finely (no ties: the script redraws until there are none) and once coarsely (ties: it
redraws until there is one); plus hand-made cases: fully separated samples, identical samples,
every value tied, a U of half the product (exact p clipped to 1), a tied exact case (U truncated),
the report's 30-vs-30 with runs at chance (10.0, tied) and its best-10 vs best-10.

Each case holds x, y, U (scipy's statistic, of x), the method "auto" picks (scipy's own
_mwu_choose_method) and p for auto, exact and asymptotic. The script checks that auto's p equals
the p of the method it picked, and that the cases cover both choices. The output is
deterministic for a given --seed and scipy build (floats written in shortest round-trip form).
"""

import argparse
import json
import sys

import numpy as np
import scipy
from scipy.stats import mannwhitneyu
from scipy.stats import _mannwhitneyu as _mwu_module

SIZES = [(3, 3), (3, 5), (4, 4), (5, 8), (8, 8), (3, 30), (8, 30), (8, 9), (9, 8), (9, 9),
         (10, 10), (12, 7), (15, 20), (20, 20), (25, 30), (30, 30), (30, 3)]


def has_ties(x, y):
    v = list(x) + list(y)
    return len(set(v)) < len(v)


def draw(rng, n, loc, decimals):
    return [round(float(v), decimals) for v in rng.normal(loc, 0.8, n)]


def sample_pair(rng, n1, n2, shift, ties):
    """Two samples of sizes n1, n2; ties=True guarantees a tie, False guarantees none."""
    decimals = 1 if ties else 6
    if ties and n1 + n2 <= 8:
        decimals = 0  # few values: round harder so a tie is likely
    for _ in range(1000):
        x = draw(rng, n1, 87.0 + shift, decimals)
        y = draw(rng, n2, 87.0, decimals)
        if has_ties(x, y) == ties:
            return x, y
    raise SystemExit(f"make_stats_fixtures: could not draw {n1} vs {n2} with ties={ties}")


def case(name, x, y):
    x = [float(v) for v in x]
    y = [float(v) for v in y]
    auto = mannwhitneyu(x, y)
    exact = mannwhitneyu(x, y, method="exact")
    asym = mannwhitneyu(x, y, method="asymptotic")
    xy = np.concatenate([np.asarray(x), np.asarray(y)])[np.newaxis, :]
    chosen = _mwu_module._mwu_choose_method(len(x), len(y), xy, "auto")
    want = {"exact": exact.pvalue, "asymptotic": asym.pvalue}[chosen]
    if float(auto.pvalue) != float(want) or float(auto.statistic) != float(exact.statistic):
        raise SystemExit(f"make_stats_fixtures: {name}: auto p {auto.pvalue} is not the {chosen} p {want}")
    return {"name": name, "x": x, "y": y, "u": float(auto.statistic), "ties": has_ties(x, y),
            "auto_method": chosen, "p_auto": float(auto.pvalue), "p_exact": float(exact.pvalue),
            "p_asymptotic": float(asym.pvalue)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="the JSON fixture to write")
    ap.add_argument("--seed", type=int, default=2026, help="numpy default_rng seed (default: 2026)")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    cases = []
    for n1, n2 in SIZES:
        for ties in (False, True):
            for shift in (0.0, 0.9):
                x, y = sample_pair(rng, n1, n2, shift, ties)
                kind = "ties" if ties else "no ties"
                cases.append(case(f"{n1} vs {n2}, {kind}, shift {shift:g}", x, y))

    # Hand-made cases.
    cases.append(case("separated 8 vs 8", range(100, 108), range(8)))
    cases.append(case("separated 10 vs 10", range(100, 110), range(10)))
    cases.append(case("separated 30 vs 30", range(100, 130), range(30)))
    cases.append(case("separated 3 vs 30 (b above)", [1, 2, 3], range(10, 40)))
    cases.append(case("identical 5 vs 5", [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]))
    cases.append(case("identical 12 vs 12", range(12), range(12)))
    cases.append(case("every value tied 2 vs 3", [10, 10], [10, 10, 10]))
    cases.append(case("every value tied 10 vs 10", [10.0] * 10, [10.0] * 10))
    cases.append(case("U = mn/2, exact p clipped", [1, 4], [2, 3]))
    cases.append(case("ties, exact p of the truncated U (14.5 → 14)", [1, 2, 2.5, 3, 7], [2.5, 4, 5, 6]))
    cases.append(case("n = 1 vs 1", [2], [1]))
    cases.append(case("n = 1 vs 3", [5], [1, 2, 3]))
    # The report's shape: 30 runs per condition, some at chance (10.0, tied), and the best 10.
    a30 = draw(rng, 30, 87.5, 2)
    b30 = draw(rng, 30, 87.0, 2)
    for i in (3, 11, 17, 25):
        b30[i] = 10.0
    cases.append(case("report 30 vs 30, 4 runs at chance", a30, b30))
    cases.append(case("report best 10 vs best 10", sorted(a30, reverse=True)[:10],
                      sorted(b30, reverse=True)[:10]))

    methods = {c["auto_method"] for c in cases}
    if methods != {"exact", "asymptotic"}:
        raise SystemExit(f"make_stats_fixtures: auto picked only {methods}")
    doc = {
        "what": "scipy.stats.mannwhitneyu(x, y) two-sided p-values: default (method auto, "
                "use_continuity True), method exact, method asymptotic; u = statistic of x",
        "generator": "tools/make_stats_fixtures.py", "seed": a.seed,
        "scipy": scipy.__version__, "numpy": np.__version__, "cases": cases,
    }
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    n_exact = sum(c["auto_method"] == "exact" for c in cases)
    print(f"make_stats_fixtures: {len(cases)} cases ({n_exact} where auto is exact) to {a.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
