#!/usr/bin/python3
"""make_geometry_fixtures.py — NumPy/SciPy reference values for dale's synaptic-geometry measurements.

It exists so that tests/test_geometry.cpp can check, without Python, the spectral measures of
framework/spectral.h (singular_values, svd_entropy, effective_rank, normalized_svd_entropy) and
the measurements of models/geometry.h (weight_stats field by field, centered_gram, linear_cka)
against values computed here from the headers' definitions with NumPy/SciPy, not from dale's code.

Run it with Debian's interpreter (python3-numpy, python3-scipy; the shebang points there):

    tools/make_geometry_fixtures.py [--out tests/fixtures/geometry/geometry.json] [--seed 20260]

Inputs are drawn from numpy's default_rng(seed), rounded to float32 (what dale stores) and
written as those exact values; every expected value is computed in float64 from the rounded
inputs. The output is deterministic for a given --seed and numpy/scipy build.

Matrices ("matrices": name → {rows, cols, w, w0, expected}), each row-major:
  lognormal   40 × 30, exp(N(−3, 1.2²)): a plain weight matrix.
  floored     30 × 25, log-normal with exact zeros, entries at 1e-18 (sign-freezing GD's floor),
              entries at 3e-13 (positive but ≤ kWeightFloor = 1e-12: floor, not sample), positive
              entries below the histogram (5e-12, 2e-11, 7e-11), at or above its top (10 exactly,
              12.5 twice, 37), and exactly 1 (log10 = 0, an interior bin edge).
  rank3       30 × 20, the product of non-negative 30 × 3 and 3 × 20 factors (full rank only by
              its float32 rounding: singular values 4…20 are ~1e-8 of the first).
  tiny        2 × 3, with an empty w0 (rel_change 0 by the contract).
w0 is w multiplied entrywise by (1 + 0.1 N(0, 1)), rounded to float32 (empty for tiny).

expected, per matrix:
  sigma                 np.linalg.svd(w, compute_uv=False) (float64), largest first
  entropy, erank, nse   H = −Σ p log p (p = σ/Σσ, 0 log 0 = 0), exp(H), H / log min(rows, cols)
  stats                 every WeightStats field (models/geometry.h):
    n, mean, sd (population, ddof 0), floor_frac (fraction ≤ 1e-12), positive (count > 1e-12);
    over y = ln(pos): log_mean, log_sd (ddof 0), log_skew = scipy.stats.skew(y) and
    log_kurt = scipy.stats.kurtosis(y) (their defaults: biased, Fisher's excess);
    ks_lognormal = scipy.stats.kstest(y, 'norm', args=(log_mean, log_sd)).statistic,
    ks_normal = kstest(pos, 'norm', args=(pos.mean(), pos.std())).statistic;
    log10_hist (110 counts), hist_below, hist_above;
    rel_change = ‖w − w0‖_F / ‖w0‖_F (0 when w0 is empty), erank as above.
  The histogram is NOT np.histogram: numpy's last bin is closed on the right ([0.9, 1] in log10),
  while dale's contract is left-closed bins [−10 + 0.1k, −10 + 0.1(k + 1)) for k = 0..109, with
  log10 w ≥ 1 counted in hist_above (so w = 10 is "above", where np.histogram would put it in the
  last bin). The counts here are k = floor((log10 w − (−10)) / 0.1): k < 0 below, k ≥ 110 above.
  The script checks that every random entry lies farther than 1e-9 bin widths from a bin edge
  (so another correct evaluation of log10 cannot move it) and that the deliberate edge values
  (1 and 10) land where the contract says; it also checks that the deliberate out-of-range and
  floor entries are really there.

"cka": two representations X (24 × 8, relu of normals, so centering matters) and
Y (24 × 5, relu(X M + noise): related to X), and their linear CKA by the feature-space formula
‖Ycᵀ Xc‖_F² / (‖Xcᵀ Xc‖_F ‖Ycᵀ Yc‖_F), Xc = X − column means (Kornblith et al. 2019, eq. for
linear kernels) — independent of the Gram-matrix formulation dale uses.
"centered_gram": a 5 × 3 X and Xc Xcᵀ (= H X Xᵀ H), 5 × 5 row-major.
"""

import argparse
import json
import math
import os

import numpy as np
import scipy
import scipy.stats

FLOOR = 1e-12
HIST_LO, HIST_WIDTH, HIST_BINS = -10.0, 0.1, 110


def f32(a):
    """float32-rounded values, back in float64 (exactly the floats dale will hold)."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def spectral(w):
    sigma = np.linalg.svd(w, compute_uv=False)
    total = sigma.sum()
    if total > 0:
        p = sigma[sigma > 0] / total
        h = float(-(p * np.log(p)).sum())
    else:
        h = 0.0
    n = len(sigma)
    return sigma, h, math.exp(h), (h / math.log(n) if n > 1 else 0.0)


def hist_bins(pos):
    """Left-closed bins k = floor((log10 w − lo) / width); see the module docstring."""
    x = (np.log10(pos) - HIST_LO) / HIST_WIDTH
    return np.floor(x).astype(np.int64), x


def nan_to_none(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def weight_stats(w, w0, rows, cols):
    pos = w[w > FLOOR]
    s = {"n": int(w.size), "mean": float(w.mean()), "sd": float(w.std()),
         "floor_frac": float(np.count_nonzero(w <= FLOOR) / w.size), "positive": int(pos.size)}
    nan = float("nan")
    if pos.size >= 2:
        y = np.log(pos)
        mu, sd = float(y.mean()), float(y.std())
        s.update(log_mean=mu, log_sd=sd, log_skew=float(scipy.stats.skew(y)),
                 log_kurt=float(scipy.stats.kurtosis(y)),
                 ks_lognormal=float(scipy.stats.kstest(y, "norm", args=(mu, sd)).statistic),
                 ks_normal=float(scipy.stats.kstest(pos, "norm", args=(pos.mean(), pos.std())).statistic))
    else:
        s.update(log_mean=nan, log_sd=nan, log_skew=nan, log_kurt=nan, ks_lognormal=nan, ks_normal=nan)
    k, _ = hist_bins(pos)
    inside = k[(k >= 0) & (k < HIST_BINS)]
    s["log10_hist"] = np.bincount(inside, minlength=HIST_BINS).astype(int).tolist()
    s["hist_below"] = int(np.count_nonzero(k < 0))
    s["hist_above"] = int(np.count_nonzero(k >= HIST_BINS))
    s["rel_change"] = float(np.linalg.norm(w - w0) / np.linalg.norm(w0)) if w0.size else 0.0
    s["erank"] = spectral(w.reshape(rows, cols))[2]
    return {key: nan_to_none(v) for key, v in s.items()}


def check_bin_margins(values, exempt):
    """Every entry but the deliberate edge values is > 1e-9 bin widths from an edge."""
    v = values[(values > FLOOR) & ~np.isin(values, exempt)]
    _, x = hist_bins(v)
    margin = np.abs(x - np.round(x)).min() if v.size else 1.0
    assert margin > 1e-9, f"an entry lies {margin} bin widths from a bin edge: redraw with another seed"


def floored_matrix(rng):
    rows, cols = 30, 25
    w = np.exp(rng.normal(-3.0, 1.2, size=rows * cols))
    idx = rng.permutation(rows * cols)
    special = [0.0] * 110 + [1e-18] * 75 + [3e-13] * 4 + [5e-12, 2e-11, 7e-11] + [10.0, 12.5, 12.5, 37.0, 1.0]
    w[idx[:len(special)]] = special
    return rows, cols, w


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.split("\n")[1:]))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "geometry", "geometry.json"),
                    help="the JSON fixture to write (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=20260, help="numpy default_rng seed (default: %(default)s)")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)

    mats = {}
    mats["lognormal"] = (40, 30, np.exp(rng.normal(-3.0, 1.2, size=40 * 30)))
    mats["floored"] = floored_matrix(rng)
    A = rng.uniform(0.0, 1.0, size=(30, 3))
    B = np.exp(rng.normal(-2.0, 0.5, size=(3, 20)))
    mats["rank3"] = (30, 20, (A @ B).ravel())
    mats["tiny"] = (2, 3, np.array([0.5, 0.25, 2.0, 1.5, 0.125, 0.75]))

    out = {"generator": "tools/make_geometry_fixtures.py", "seed": a.seed, "numpy": np.__version__,
           "scipy": scipy.__version__,
           "hist": {"lo": HIST_LO, "width": HIST_WIDTH, "bins": HIST_BINS, "closed": "left"},
           "floor": FLOOR, "matrices": {}}
    for name, (rows, cols, flat) in mats.items():
        w = f32(flat)
        check_bin_margins(w, exempt=[1.0, 10.0])
        if name == "tiny":
            w0 = np.zeros(0)
        else:
            w0 = f32(w * (1.0 + 0.1 * rng.normal(size=w.size)))
        wm = w.reshape(rows, cols)
        sigma, h, erank, nse = spectral(wm)
        stats = weight_stats(w, w0, rows, cols)
        out["matrices"][name] = {"rows": rows, "cols": cols, "w": w.tolist(), "w0": w0.tolist(),
                                 "expected": {"sigma": sigma.tolist(), "entropy": h, "erank": erank,
                                              "nse": nse, "stats": stats}}

    # The floored matrix really exercises what it is for.
    fl = out["matrices"]["floored"]
    st, wf = fl["expected"]["stats"], f32(mats["floored"][2])
    assert np.count_nonzero(wf == 0) == 110 and np.count_nonzero(wf == f32(1e-18)) == 75
    assert st["hist_below"] == 3 and st["hist_above"] == 4, (st["hist_below"], st["hist_above"])
    assert st["positive"] == wf.size - 110 - 75 - 4
    k_one, _ = hist_bins(np.array([1.0]))
    assert k_one[0] == 100  # log10 1 = 0 opens bin 100 (left-closed)
    assert st["log10_hist"][100] >= 1
    # np.histogram would disagree here (its last bin takes log10 w = 1): the reason for floor().
    edges = HIST_LO + HIST_WIDTH * np.arange(HIST_BINS + 1)
    pos = wf[wf > FLOOR]
    np_counts, _ = np.histogram(np.log10(pos), bins=edges)
    assert np_counts.sum() == sum(st["log10_hist"]) + 1  # the 10.0 entry

    # CKA between two related representations, by the feature-space formula.
    X = f32(np.maximum(rng.normal(size=(24, 8)), 0.0))
    M = rng.normal(size=(8, 5))
    Y = f32(np.maximum(X @ M + 0.5 * rng.normal(size=(24, 5)), 0.0))
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    cka = np.linalg.norm(Yc.T @ Xc) ** 2 / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc))
    # Uncentred, the value would be far off: a missing centring cannot pass.
    cka_raw = np.linalg.norm(Y.T @ X) ** 2 / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y))
    assert abs(cka - cka_raw) > 0.05, (cka, cka_raw)
    out["cka"] = {"n": 24, "p1": 8, "p2": 5, "x": X.ravel().tolist(), "y": Y.ravel().tolist(),
                  "cka": float(cka), "cka_uncentered": float(cka_raw)}

    G = f32(rng.normal(size=(5, 3)) + 2.0)
    Gc = G - G.mean(0)
    out["centered_gram"] = {"n": 5, "p": 3, "x": G.ravel().tolist(), "gram": (Gc @ Gc.T).ravel().tolist()}

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    size = os.path.getsize(a.out)
    assert size < 200_000, size
    print(f"{a.out}: {size} bytes; cka {cka:.6f} (uncentred {cka_raw:.6f}); " +
          ", ".join(f"{n} erank {m['expected']['erank']:.4f}" for n, m in out["matrices"].items()))


if __name__ == "__main__":
    main()
