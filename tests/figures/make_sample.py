#!/usr/bin/python3
"""make_sample.py — synthetic dale sweep records for testing tools/figures.py.

Writes JSON Lines in the format of `dale sweep` (one record per epoch per run, models/trainer.cpp)
with plausible numbers: final accuracies near the study's (study §9 table), `inorm-` and
`inorm-scale` diverging in part, and diagnostics (out_cos, grad_cos, err_eig) in the ranges the
study reports. The numbers are invented; they exercise the plots, not the science.

    tests/figures/make_sample.py --out tests/figures/sample.jsonl            # the committed sample
    tests/figures/make_sample.py --configs 30 --epochs 5 --out /tmp/big.jsonl
    tests/figures/make_sample.py --variants inorm+ ei-ln+ --out /tmp/partial.jsonl

Deterministic for a given --seed.
"""

import argparse
import json
import sys

import numpy as np

EPS = [0.0, 0.25, 0.5, 0.75]

# Median final test accuracy (%) per ε, from study §9 (others: plausible guesses).
ACC = {
    "ei": [86.5, 85.2, 83.0, 79.5],
    "ei-ln+": [88.0, 87.3, 86.1, 83.9],
    "ei-ln-": [87.1, 86.2, 84.5, 81.5],
    "e-ln+": [88.4, 87.7, 86.9, 85.1],
    "e-ln-": [87.3, 86.5, 85.0, 82.0],
    "inorm-": [87.0, 86.4, 84.5, 81.8],
    "inorm+": [88.6, 88.1, 87.3, 85.6],
    "inorm-center": [88.2, 87.8, 87.1, 85.1],
    "inorm-decorrelate": [87.3, 86.8, 84.3, 81.7],
    "inorm-scale": [87.0, 86.2, 84.0, 80.0],
    "inorm-fa": [88.3, 87.8, 86.8, 84.9],
    "inorm-sub+": [87.5, 86.8, 85.5, 83.0],
    "inorm-sub-": [87.0, 86.0, 84.5, 81.5],
}
# Probability that a run diverges, per ε.
DIVERGE = {"inorm-": [0.3, 0.4, 0.43, 0.3], "inorm-scale": [0.05, 0.1, 0.7, 0.8]}
# (output cosine range, gradient cosine range) to LN+ of a hidden layer.
COS = {
    "ei": ((0.55, 0.75), (0.2, 0.5)),
    "ei-ln+": ((0.999, 1.0), (0.999, 1.0)),
    "ei-ln-": ((0.999, 1.0), (0.3, 0.6)),
    "e-ln+": ((0.999, 1.0), (0.999, 1.0)),
    "e-ln-": ((0.999, 1.0), (0.3, 0.6)),
    "inorm-": ((0.87, 0.98), (0.1, 0.3)),
    "inorm+": ((0.994, 0.999), (0.96, 0.995)),
    "inorm-center": ((0.99, 0.998), (0.75, 0.92)),
    "inorm-decorrelate": ((0.99, 0.998), (0.25, 0.5)),
    "inorm-scale": ((0.99, 0.998), (0.3, 0.55)),
    "inorm-fa": ((0.99, 0.998), (0.7, 0.9)),
    "inorm-sub+": ((0.85, 0.95), (0.5, 0.7)),
    "inorm-sub-": ((0.85, 0.95), (0.2, 0.4)),
}
# Hidden activity (mean, variance) per variant family.
MOMENTS = {"ei": (-0.56, 0.89), "inorm-sub": (-0.04, 0.83), "inorm": (-0.003, 0.99), "ln": (0.0, 1.0)}


def moments_of(v):
    if v.startswith("inorm-sub"):
        return MOMENTS["inorm-sub"]
    if v.startswith("inorm"):
        return MOMENTS["inorm"]
    if "ln" in v:
        return MOMENTS["ln"]
    return MOMENTS["ei"]


def r4(x):
    return None if x is None else round(float(x), 4)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--configs", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--variants", nargs="*", default=list(ACC))
    ap.add_argument("--eps", nargs="*", type=float, default=EPS)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    quality = rng.normal(0, 1, a.configs)  # shared across conditions: a good config is good everywhere
    widths = rng.integers(100, 500, a.configs)
    n = 0
    with open(a.out, "w") as f:
        for k in range(a.configs):
            for v in a.variants:
                for e in a.eps:
                    j = EPS.index(e) if e in EPS else min(3, int(e * 4))
                    final = ACC[v][j] + 0.8 * quality[k] + rng.normal(0, 0.3)
                    div_at = None
                    if rng.uniform() < DIVERGE.get(v, [0, 0, 0, 0])[j]:
                        div_at = int(rng.integers(1, a.epochs + 1))
                    m0, v0 = moments_of(v)
                    (oc_lo, oc_hi), (gc_lo, gc_hi) = COS[v]
                    for ep in range(1, a.epochs + 1):
                        diverged = div_at is not None and ep == div_at
                        acc = final - 4.0 * (a.epochs - ep) / a.epochs
                        rec = {
                            "run": f"sweep-cfg{k}-{v}-eps{e:g}", "variant": v, "eps": e,
                            "width": int(widths[k]), "seed": k, "config_id": k, "epoch": ep,
                            "step": ep * 1875,
                            "train_acc": r4(10.0 if diverged else acc + 2),
                            "train_loss": r4(2.3 if diverged else 0.6),
                            "test_acc": r4(10.0 if diverged else acc),
                            "test_loss": r4(2.3 if diverged else 0.65),
                            "local_loss": {"fc0": 1e-3, "fc1": 1e-3, "total": 2e-3},
                            "mu": [None if diverged else r4(m0 + rng.normal(0, 0.05)) for _ in range(2)],
                            "var": [None if diverged else r4(v0 * np.exp(rng.normal(0, 0.1))) for _ in range(2)],
                            "elapsed_s": r4(30.0 * ep), "diverged": diverged,
                            "final": diverged or ep == a.epochs,
                        }
                        if not diverged:
                            late = ep / a.epochs
                            rec["out_cos"] = [r4(rng.uniform(oc_lo, oc_hi)) for _ in range(2)]
                            rec["grad_cos"] = [r4(rng.uniform(gc_lo, gc_hi) * (0.9 + 0.1 * late)) for _ in range(2)]
                            base = 3e-4 if v == "inorm-fa" else 1e-3
                            rec["err_eig"] = [float(f"{base * (1 + e) * np.exp(rng.normal(0, 0.4)):.3g}") for _ in range(2)]
                        rec["config"] = {"data": {"brightness_factor": e},
                                         "model": {"variant": v, "hidden_layer_width": int(widths[k])}}
                        f.write(json.dumps(rec, separators=(",", ":")) + "\n")
                        n += 1
                        if diverged:
                            break
    print(f"make_sample: {n} records to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
