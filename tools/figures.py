#!/usr/bin/python3
"""figures.py — the study's seven figures (docs/study.md §11), drawn from dale's JSON Lines results,
and two of synaptic geometry when the records carry it (training with --diag.geometry 1).

It exists so that a sweep's records (`dale sweep`/`dale compare`, any number of shards) become the
study's figures with one command, and so that a partial sweep still plots: a condition missing
from the data gets a panel with a centred "no data for <variant>" note, never a failure.

    tools/figures.py runs/*.jsonl [--out figures/] [--data /usr/share/datasets/fashion-mnist]
                     [--best N] [--geometry-lr LR] [--smoke]

Input: one JSON record per epoch per run (models/trainer.cpp). A run is its id and its
configuration (less output paths, data directory and epoch count): records of one id with
different configurations — `dale compare` files of two learning rates, say — are different runs.
A run's result is its record with the highest epoch; a (run, epoch) seen twice counts once (the
later line wins: a resumed run re-writes its epochs); a torn last line is skipped with a warning. A diverged run is a result
(study §9): its final accuracy counts, as logged (chance, 10 %, when the log holds no number).

Output, PNG and SVG each, into --out:
  fig1_samples       32 training images at ε = 0 and ε = 0.75 (IDX files from --data)
  fig2_ln_detach     EI LN+ vs EI LN− per shared configuration; EI LN+ vs E LN+ (best 10, Mann-Whitney)
  fig3_activity      hidden activity mean and second moment: No-Norm, I-Norm (sub), I-Norm
  fig4_inorm_forward LN+ vs inorm−; output/gradient cosine to LN+; cosine vs epoch
  fig5_inorm_full    the same for inorm+
  fig6_error_parts   gradient cosine of center/decorrelate/scale; accuracy per ε vs full and LN+
  fig7_lateral       accuracy per ε of inorm-fa / center / full; error-covariance eigenvalue by ε
and, only when a record carries "geometry" (models/geometry.h; otherwise one "skipped" line):
  fig8_weight_hist   log10 w of fc0.Wex, fc1.Wex (when present) and fc_output.Wex at the end of
                     training, per variant (rows) and learning rule (colours), summed over seeds,
                     with each rule's fitted log-normal and the initial weights (grey dashed)
  fig9_rank_regime   against Wex's initial rank (model.init_rank; 0 = "full"): (a) Wex's relative
                     change, (b) 1 − CKA of hidden activity to init, (c) test accuracy; mean ± sd
and, for figs 6 to 9, <name>.json: the numbers they draw — fig6/fig7: their accuracy panels (per ε
and box: runs counted, runs drawn, runs hidden at chance, median, Mann-Whitney U and p against LN+,
the LN+ median); fig8: per (variant, rule) the lr chosen, the candidates and their medians, and per
matrix the runs counted, summed histogram, floor and positive fractions, fitted log-normal, median
KS distances (ks_lognormal, ks_normal) at the end and at init; fig9: per group and rank the runs
counted and mean, sd and count of each quantity.

Conventions: accuracy is the final test accuracy in %; ε is always coloured with one colormap;
"LN+" is `e-ln+` when the data holds it, else `ei-ln+` (the study draws later figures against
E LN+, study §6); diagnostics (out_cos, grad_cos, err_eig, mu, var) are per hidden layer, any number
of them, and pooled over the layers.

Geometry (figs 8, 9): a run counts when any record of it has "geometry"; its end is its final
record's (highest epoch), its initial weights the epoch-1 record's "init". A learning rule is
opt.algorithm with opt.gd_signs: "SGD", "SGD (sign-freeze)" (gd_signs freeze), "EG", "AdamW"; absent
config keys are their defaults (gd_signs clamp, init_rank 0, init_gain 1). Runs are pooled only
when their configurations differ by nothing but the seed and init_rank (paths, the run's name, the
device and diag.* aside; learning rates compared at float32's 6 digits); any other key that differs
between runs is named in the labels. fig8 draws per (variant, rule) one such group at full rank
(any one rank when the rule has none): the lr whose runs have the best median final test accuracy
(ties: more runs, then the smaller lr), or --geometry-lr LR for every rule; its densities are per
unit log10 w as a share of all entries, so a matrix with weights at the floor (clamped to 0, or
frozen at 1e-18) integrates to its positive fraction, and the floor's share is named in the legend.
fig9's error bars are the sample sd over seeds (0 for one run); its panels (a) and (b) leave out
networks that diverged or whose last hidden layer fell silent (its CKA written as null: no
activity on the fixed batch) — they learned nothing — and count them per rank in the JSON
("silent_or_diverged"); (c) counts every run. A geometry entry or value that is
missing, malformed or not finite (dale writes NaN as null) is left out of what needs it; the
figures are still drawn.

Box plots, with every drawn run's dot: fig2's compare the best 10 runs of each condition (study §11.2).
The accuracy panels of fig6 and fig7 use all runs of a condition, as the study's figures do
(study §9): the Mann-Whitney test of each condition against LN+ and the dotted LN+ median count
every run; runs at chance (diverged, or test accuracy ≤ 10.5 %) are hidden from the drawing only,
when the condition's median is at least 50 % (a "~k" mark above the box counts them), and a
condition whose median is at chance is drawn whole. --best N draws and tests the best N runs per
condition instead, in figs 2, 6 and 7. Mann-Whitney U tests are scipy.stats.mannwhitneyu's
default (two-sided, method "auto", continuity correction), the p-values of the study's notebooks.

--smoke: the CI preset for tiny data — smaller figures at a low DPI, and fig1 draws a placeholder
note when --data holds no IDX files (otherwise that is an error).

Exit codes: 0 success · 1 internal error · 2 bad input (a missing, unreadable or empty file, a
malformed record, no IDX files outside --smoke); one line names the file.

Needs Debian's python3-matplotlib, python3-numpy and python3-scipy (tools/setup installs them).
"""

import argparse
import gzip
import json
import math
import os
import struct
import sys
import time
from collections import defaultdict

try:
    import numpy as np
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import (FixedFormatter, FixedLocator, FormatStrFormatter,
                                   LogFormatterSciNotation, LogLocator, MaxNLocator, NullFormatter,
                                   NullLocator)
    from scipy.stats import mannwhitneyu
except ImportError as e:  # pragma: no cover
    sys.exit(f"figures.py: needs Debian's python3-matplotlib, python3-numpy and python3-scipy ({e}); "
             "run tools/setup python3-matplotlib python3-numpy python3-scipy")

PROG = "figures.py"
CHANCE = 10.0                       # accuracy (%) of a diverged run whose log holds no number
FAILED = 20.0                       # accuracies below this (%) are runs that failed (≈ chance)
AT_CHANCE = 10.5                    # figs 6/7: a run at or below this (%), or diverged, is at chance
HIDE_ABOVE_MEDIAN = 50.0            # figs 6/7 hide runs at chance when the condition's median is ≥ this
FIG2_BEST = 10                      # fig2's box plots: the best 10 runs per condition (study §11.2)
EPS_GRID = [0.0, 0.25, 0.5, 0.75]   # the paper's grid (study §1)
EPS_HIST = 0.75                     # ε of the cosine histograms (study §11)

# Fig. 3 groups (study §11.3): label, variants pooled.
ACTIVITY_GROUPS = [("No-Norm", ["ei"]), ("I-Norm (sub)", ["inorm-sub+", "inorm-sub-"]),
                   ("I-Norm", ["inorm+", "inorm-"])]
# Short labels for box plots.
SHORT = {"inorm-scale": "scale", "inorm-decorrelate": "decorrelate", "inorm-center": "center",
         "inorm+": "full", "inorm-fa": "lateral\n(fa)", "inorm-": "forward\nonly",
         "ei-ln+": "EI LN+", "e-ln+": "E LN+", "ei-ln-": "EI LN−"}


class BadInput(Exception):
    """Bad input: exit code 2 with one line."""


def warn(msg):
    print(f"{PROG}: warning: {msg}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Statistics


def mann_whitney(a, b):
    """(U of a, two-sided p) of scipy.stats.mannwhitneyu(a, b) with its defaults (method "auto":
    exact when a sample has at most 8 values and there are no ties, else the normal approximation
    with tie and continuity corrections), the test of the study's notebooks. (nan, nan) when a
    sample is empty."""
    a, b = [float(x) for x in a], [float(x) for x in b]
    if not a or not b:
        return float("nan"), float("nan")
    r = mannwhitneyu(a, b)
    return float(r.statistic), float(r.pvalue)


def stars(p):
    """Significance marks of the study's notebooks."""
    if p != p:
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "n.s."


def fmt_p(p):
    if p != p:
        return "n/a"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def finite(xs):
    out = []
    for x in xs:
        if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x):
            out.append(float(x))
    return out


def median(xs):
    return float(np.median(xs)) if len(xs) else float("nan")


# ---------------------------------------------------------------------------------------------
# Records


class Run:
    """One training run: its records by epoch; the result is the highest epoch's record."""

    def __init__(self, name):
        self.name = name
        self.by_epoch = {}

    @property
    def final(self):
        return self.by_epoch[max(self.by_epoch)]

    @property
    def variant(self):
        return self.final["variant"]

    @property
    def eps(self):
        return self.final["eps"]

    @property
    def key(self):
        """The configuration shared across conditions: config_id, else the seed."""
        f = self.final
        cid = f.get("config_id")
        return ("config", cid) if cid is not None else ("seed", f.get("seed"))

    @property
    def diverged(self):
        return any(bool(r.get("diverged")) for r in self.by_epoch.values())

    @property
    def acc(self):
        a = finite([self.final.get("test_acc")])
        if a:
            return a[0]
        return CHANCE if self.diverged else float("nan")


def normalize_record(rec):
    """Fills variant and eps from the config block when missing; rounds eps."""
    cfg = rec.get("config") if isinstance(rec.get("config"), dict) else {}
    if "variant" not in rec:
        rec["variant"] = (cfg.get("model") or {}).get("variant")
    eps = rec.get("eps")
    if eps is None:
        eps = (cfg.get("data") or {}).get("brightness_factor")
    rec["eps"] = round(float(eps), 4) if isinstance(eps, (int, float)) else None
    return rec


def run_identity(rec):
    """What makes two records with one run id the same run: their config without the output
    paths, the data directory and the number of epochs (a resumed run may extend it) — as dale's
    own resume check. `dale compare` names runs by variant, ε and seed, so files of different
    experiments (another lr, another rank) repeat ids: they are different runs."""
    cfg = rec.get("config") if isinstance(rec.get("config"), dict) else {}
    cfg = {k: (dict(v) if isinstance(v, dict) else v) for k, v in cfg.items() if k != "exp"}
    cfg.get("train", {}).pop("epochs", None)
    cfg.get("data", {}).pop("dir", None)
    return json.dumps(cfg, sort_keys=True)


def load(paths):
    """Reads every file; returns {(run id, identity): Run}. Raises BadInput naming the file."""
    runs = {}
    skipped = 0
    for path in paths:
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise BadInput(f"{path}: cannot read ({e.strerror or e})")
        if path.endswith(".gz"):
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError) as e:
                raise BadInput(f"{path}: not a valid gzip file ({e})")
        text = raw.decode("utf-8", errors="replace")
        lines = text.split("\n")
        numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip()]
        if not numbered:
            raise BadInput(f"{path}: empty (expected JSON Lines records from dale sweep/compare/train)")
        kept = 0
        for idx, (lineno, ln) in enumerate(numbered):
            try:
                rec = json.loads(ln)
            except json.JSONDecodeError:
                if idx == len(numbered) - 1:
                    warn(f"{path}:{lineno}: torn last line skipped")
                    continue
                raise BadInput(f"{path}:{lineno}: not a JSON record")
            if not isinstance(rec, dict):
                raise BadInput(f"{path}:{lineno}: not a JSON object")
            rec = normalize_record(rec)
            if not isinstance(rec.get("run"), str) or not isinstance(rec.get("variant"), str) \
                    or not isinstance(rec.get("epoch"), int) or rec.get("eps") is None:
                skipped += 1
                continue
            runs.setdefault((rec["run"], run_identity(rec)), Run(rec["run"])).by_epoch[rec["epoch"]] = rec
            kept += 1
        if kept == 0:
            raise BadInput(f"{path}: no dale record in it (each line needs run, variant, epoch, eps)")
    if skipped:
        warn(f"{skipped} records without run/variant/epoch/eps skipped")
    return runs


class Sweep:
    """The runs grouped by condition (variant, ε), with the queries the figures need."""

    def __init__(self, runs, best, geometry_lr=None):
        self.best_n = best                # --best N, or None: figs 6/7 use all runs
        self.geo = Geometry(runs)         # figs 8 and 9
        self.geometry_lr = geometry_lr    # --geometry-lr, or None: fig8 picks the best lr per rule
        self.fig2_n = best or FIG2_BEST
        self.cond = defaultdict(list)
        for r in runs.values():
            self.cond[(r.variant, r.eps)].append(r)
        for k in self.cond:
            self.cond[k].sort(key=lambda r: r.name)
        self.variants = sorted({v for v, _ in self.cond})
        self.eps = sorted({e for _, e in self.cond})
        self.missing = defaultdict(set)   # figure -> variants it lacked
        self.numbers = {}                 # figure -> the numbers behind it, written as <figure>.json

    def has(self, variant):
        return variant in self.variants

    def runs(self, variant, eps=None):
        if eps is None:
            return [r for (v, _), rs in sorted(self.cond.items()) if v == variant for r in rs]
        return self.cond.get((variant, eps), [])

    def accs(self, variant, eps):
        return finite([r.acc for r in self.runs(variant, eps)])

    def best(self, variant, eps, n):
        """The n best accuracies of a condition, largest first."""
        return sorted(self.accs(variant, eps), reverse=True)[:n]

    def sample(self, variant, eps):
        """Runs of a condition the accuracy panels of figs 6/7 count: all, or the best --best N."""
        rs = [r for r in self.runs(variant, eps) if math.isfinite(r.acc)]
        if self.best_n is not None:
            rs = sorted(rs, key=lambda r: -r.acc)[: self.best_n]
        return rs

    def n_diverged(self, variant, eps):
        return sum(r.diverged for r in self.runs(variant, eps))

    def ln_ref(self):
        return "e-ln+" if self.has("e-ln+") else "ei-ln+"

    def pairs(self, vx, vy, eps):
        """(x acc, y acc, either diverged) for runs of vx and vy sharing a configuration."""
        bx = {r.key: r for r in self.runs(vx, eps)}
        out = []
        for r in self.runs(vy, eps):
            if r.key in bx and math.isfinite(bx[r.key].acc) and math.isfinite(r.acc):
                out.append((bx[r.key].acc, r.acc, bx[r.key].diverged or r.diverged))
        return out

    def diag(self, variant, eps, field):
        """A diagnostic of the final records, pooled over runs and hidden layers."""
        out = []
        for r in self.runs(variant, eps):
            v = r.final.get(field)
            if isinstance(v, list):
                out += finite(v)
        return out

    def diag_by_epoch(self, variant, eps, field):
        """{epoch: values pooled over runs and layers}."""
        out = defaultdict(list)
        for r in self.runs(variant, eps):
            for ep, rec in r.by_epoch.items():
                v = rec.get(field)
                if isinstance(v, list):
                    out[ep] += finite(v)
        return {ep: vs for ep, vs in sorted(out.items()) if vs}

    def moments(self, variants, eps):
        """(means, second moments) of hidden activity, final records of runs that did not diverge."""
        means, second = [], []
        for v in variants:
            for r in self.runs(v, eps):
                if r.diverged:
                    continue
                mu, var = r.final.get("mu"), r.final.get("var")
                if not isinstance(mu, list) or not isinstance(var, list):
                    continue
                for m, s in zip(mu, var):
                    if finite([m]) and finite([s]):
                        means.append(m)
                        if s + m * m > 0:
                            second.append(s + m * m)
        return means, second

    def hist_eps(self, variants):
        """ε of the cosine histograms: 0.75 when present, else the largest ε the variants have."""
        have = sorted({e for v in variants for e in self.eps if self.runs(v, e)})
        if not have:
            return EPS_HIST
        return EPS_HIST if EPS_HIST in have else have[-1]


# ---------------------------------------------------------------------------------------------
# Drawing helpers


class Style:
    def __init__(self, smoke, eps_values):
        self.smoke = smoke
        self.dpi = 60 if smoke else 150
        self.scale = 0.75 if smoke else 1.0
        base = plt.get_cmap("viridis")
        # viridis without its pale yellow end, so the largest ε stays visible on white
        self.cmap = LinearSegmentedColormap.from_list("eps", base(np.linspace(0.0, 0.85, 256)))
        self.norm = Normalize(0.0, max([0.75] + list(eps_values)))

    def size(self, w, h):
        return (w * self.scale, h * self.scale)

    def eps_color(self, e):
        return self.cmap(self.norm(e))

    def eps_legend(self, ax, eps_values, extra=(), **kw):
        handles = [Line2D([], [], marker="o", ls="", color=self.eps_color(e), label=f"ε = {e:g}")
                   for e in eps_values]
        ax.legend(handles=handles + list(extra), fontsize="small", **kw)


def no_data(ax, sweep, fig_name, variants, clear=True):
    """A centred note in place of a panel whose condition is missing."""
    if isinstance(variants, str):
        variants = [variants]
    for v in variants:
        sweep.missing[fig_name].add(v)
    if clear:
        ax.set_xticks([])
        ax.set_yticks([])
    ax.text(0.5, 0.5, "no data for " + ", ".join(variants), transform=ax.transAxes,
            ha="center", va="center", fontsize="medium", color="0.35")


def scatter_pairs(ax, sweep, st, fig_name, vx, vy, xlabel, ylabel):
    """x = vx accuracy, y = vy accuracy per shared configuration, coloured by ε, with the diagonal.
    The axes zoom on the runs that learned; a run that diverged or failed (< FAILED %) is an ×
    drawn on the axis edge of its failed coordinate(s)."""
    missing = [v for v in (vx, vy) if not sweep.has(v)]
    ax.set_xlabel(f"{xlabel} test accuracy (%)")
    ax.set_ylabel(f"{ylabel} test accuracy (%)")
    if missing:
        no_data(ax, sweep, fig_name, missing)
        return
    per_eps = [(e, sweep.pairs(vx, vy, e)) for e in sweep.eps]
    per_eps = [(e, pts) for e, pts in per_eps if pts]
    if not per_eps:
        no_data(ax, sweep, fig_name, [f"{vx} & {vy} with a shared configuration"])
        return
    good = [c for _, pts in per_eps for x, y, _ in pts for c in (x, y) if c >= FAILED]
    lo, hi = (min(good), max(good)) if good else (0.0, 100.0)
    pad = max(0.5, 0.06 * (hi - lo))
    lo, hi = lo - pad, hi + pad
    edge = lo + 0.35 * pad
    n_bad = 0
    for e, pts in per_eps:
        ok = [(x, y) for x, y, d in pts if not d and x >= FAILED and y >= FAILED]
        bad = [(x if x >= FAILED else edge, y if y >= FAILED else edge) for x, y, d in pts
               if d or x < FAILED or y < FAILED]
        n_bad += len(bad)
        if ok:
            ax.scatter(*zip(*ok), s=22, color=st.eps_color(e), edgecolor="k", linewidth=0.3, zorder=3)
        if bad:
            ax.scatter(*zip(*bad), s=34, marker="x", color=st.eps_color(e), linewidth=1.2, zorder=4,
                       clip_on=False)
    ax.plot([lo, hi], [lo, hi], ls="--", color="0.4", lw=1, zorder=1)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    extra = [Line2D([], [], ls="--", color="0.4", label="y = x")]
    if n_bad:
        extra.append(Line2D([], [], marker="x", ls="", color="0.3",
                            label=f"diverged or < {FAILED:g} % ({n_bad}),\ndrawn on the axis edge"))
    st.eps_legend(ax, [e for e, _ in per_eps], extra, loc="upper left")


def boxes(ax, st, groups, ylabel, log=False, points=True, box_ticks=True):
    """Grouped box plots. groups: [(group label, [(box label, values, colour[, hatch]), ...])].
    A box without values shows a 'no data' note at its place. box_ticks=False labels only the
    groups (the boxes then need a legend). Returns [(x, values)] of every box."""
    placed, labels, x = [], [], 1.0
    centres = []
    for glabel, items in groups:
        start = x
        for blabel, vals, color, *hatch in items:
            if vals:
                bp = ax.boxplot([vals], positions=[x], widths=0.6, patch_artist=True,
                                showfliers=not points, medianprops={"color": "k"})
                for b in bp["boxes"]:
                    b.set_facecolor(color[:3] + (0.55,))
                    if hatch:
                        b.set_hatch(hatch[0])
                if points:
                    jit = np.linspace(-0.15, 0.15, len(vals)) if len(vals) > 1 else [0.0]
                    ax.scatter(x + np.asarray(jit), vals, s=8, color=color, edgecolor="k",
                               linewidth=0.3, zorder=3)
            else:
                ax.text(x, 0.5, "no data", rotation=90, ha="center", va="center", color="0.4",
                        fontsize="small", transform=ax.get_xaxis_transform())
            placed.append((x, vals))
            labels.append(blabel)
            x += 1.0
        centres.append(((start + x - 1.0) / 2.0, glabel))
        x += 0.6
    if box_ticks:
        ax.set_xticks([p for p, _ in placed])
        ax.set_xticklabels(labels, fontsize="small")
    else:
        ax.set_xticks([c for c, _ in centres])
        ax.set_xticklabels([g for _, g in centres], fontsize="small")
    ax.set_xlim(0.4, x - 1.0)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    if box_ticks and len(groups) > 1 and any(g for g, _ in groups):
        for c, g in centres:
            ax.annotate(g, (c, 0), xycoords=("data", "axes fraction"), xytext=(0, -28),
                        textcoords="offset points", ha="center", va="top", fontsize="small",
                        fontweight="bold")
    return placed


def zoom_above_chance(ax, placed, extra=()):
    """Accuracy boxes: when some runs failed (accuracy < FAILED %, i.e. diverged to chance) and
    others did not, zoom the y axis on the successful ones and count the failed ones at the
    bottom edge of each box's column, so a few runs at 10 % do not flatten the comparison."""
    allv = [v for _, vals in placed for v in vals] + [v for v in extra if math.isfinite(v)]
    good = [v for v in allv if v >= FAILED]
    if not good or len(good) == len(allv):
        return
    lo, hi = min(good), max(good)
    pad = max(0.3, 0.08 * (hi - lo))
    ax.set_ylim(lo - pad, hi + pad)
    for x, vals in placed:
        k = sum(v < FAILED for v in vals)
        if k:
            ax.annotate(f"▼ {k} at\n≤ {FAILED:g} %", (x, 0), xycoords=("data", "axes fraction"),
                        xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                        fontsize="x-small", color="firebrick",
                        bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 0.5})


def log_labels(ax):
    """Readable ticks on a log y axis: at 1, 2 and 5 × 10ⁿ when it spans more than a decade,
    else a few plain numbers."""
    lo, hi = ax.get_ylim()
    if lo <= 0:
        return
    if hi / lo > 10:
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(LogFormatterSciNotation(labelOnlyBase=False))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%.3g"))
        ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_formatter(NullFormatter())


def eps_grid_axes(fig, area, n):
    """Axes for one panel per ε inside a gridspec area (⌈n/2⌉ × 2)."""
    sub = area.subgridspec(max(1, math.ceil(n / 2)), 2 if n > 1 else 1, hspace=0.55, wspace=0.3)
    return [fig.add_subplot(sub[i // 2, i % 2]) for i in range(max(n, 1))]


def at_chance(run):
    return run.diverged or run.acc <= AT_CHANCE


def accuracy_panels(axes, sweep, st, fig_name, variants):
    """One panel per ε: accuracy boxes of `variants` over all their runs (or the best --best N),
    each tested against LN+ (Mann-Whitney, two-sided), and LN+'s median as a dotted line. Runs at
    chance are hidden from the boxes when their condition's median is at least 50 %, as in the
    study's figures; they still count in the tests and medians. The numbers go to
    sweep.numbers[fig_name]."""
    ref = sweep.ln_ref()
    which = "all runs" if sweep.best_n is None else f"best {sweep.best_n} runs"
    numbers = {"runs": "all" if sweep.best_n is None else f"best {sweep.best_n}", "reference": ref,
               "at_chance": f"diverged or test_acc <= {AT_CHANCE:g}, hidden when the median >= "
                            f"{HIDE_ABOVE_MEDIAN:g}", "panels": []}
    sweep.numbers[fig_name] = numbers
    present = [v for v in variants if sweep.has(v)]
    for v in variants:
        if not sweep.has(v):
            sweep.missing[fig_name].add(v)
    if not sweep.eps:
        no_data(axes[0], sweep, fig_name, variants)
        return
    for ax, e in zip(axes, sweep.eps):
        ax.set_title(f"ε = {e:g} ({which})", fontsize="medium")
        if not present:
            no_data(ax, sweep, fig_name, variants)
            continue
        ref_acc = [r.acc for r in sweep.sample(ref, e)]
        m = median(ref_acc)
        panel = {"eps": e, "reference_n": len(ref_acc), "reference_median": m if ref_acc else None,
                 "boxes": []}
        numbers["panels"].append(panel)
        items, hidden_of = [], []
        for v in variants:
            rs = sweep.sample(v, e)
            acc = [r.acc for r in rs]
            med = median(acc)
            hide = bool(acc) and med >= HIDE_ABOVE_MEDIAN
            shown = [r.acc for r in rs if not (hide and at_chance(r))]
            u, p = mann_whitney(acc, ref_acc)
            nd = sum(r.diverged for r in rs)
            lab = SHORT.get(v, v).replace("\n", " ")
            if acc and ref_acc:
                lab += f"\n{stars(p)} p = {fmt_p(p)}"
            if nd:
                lab += f"\n{nd} div."
            items.append((lab, shown, st.eps_color(e)))
            hidden_of.append(len(acc) - len(shown))
            panel["boxes"].append({"variant": v, "n": len(acc), "shown": len(shown),
                                   "hidden": len(acc) - len(shown), "diverged": nd,
                                   "median": med if acc else None,
                                   "u": u if acc and ref_acc else None,
                                   "p": p if acc and ref_acc else None,
                                   "stars": stars(p) if acc and ref_acc else None})
        placed = boxes(ax, st, [("", items)], "test accuracy (%)")
        handles = []
        if ref_acc:
            ax.axhline(m, ls=":", color="k", lw=1.2)
            zoom_above_chance(ax, placed, [m])
            handles.append(Line2D([], [], ls=":", color="k",
                                  label=f"{ref} median of {len(ref_acc)} runs ({m:.2f} %)"))
        else:
            zoom_above_chance(ax, placed)
            sweep.missing[fig_name].add(ref)
            handles.append(Line2D([], [], ls="", label=f"no data for {ref}"))
        if any(hidden_of):
            for (x, vals), k in zip(placed, hidden_of):
                if k and vals:
                    ax.annotate(f"~{k}", (x, max(vals)), xytext=(0, 4), textcoords="offset points",
                                ha="center", va="bottom", fontsize="small", fontweight="bold",
                                color="firebrick")
            handles.append(Line2D([], [], ls="", label=f"~k: k runs at chance (≤ {AT_CHANCE:g} % or "
                                                        "diverged), not drawn, counted in p"))
        ax.legend(handles=handles, fontsize="x-small", loc="best")
        ax.grid(axis="y", alpha=0.3)


def cos_hist(ax, sweep, st, fig_name, variant, field, eps, what):
    vals = sweep.diag(variant, eps, field)
    ax.set_xlabel(f"{what} cosine to LN+ (1 = identical)")
    ax.set_ylabel("count (run × hidden layer)")
    ax.set_title(f"{variant}: {what} cosine, ε = {eps:g}", fontsize="medium")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if not sweep.has(variant):
        no_data(ax, sweep, fig_name, variant)
        return
    if not vals:
        no_data(ax, sweep, fig_name, [f"{variant} {field} at ε = {eps:g}"])
        return
    lo = min(vals)
    lo = lo - 0.05 * (1.0 - lo) if lo < 1.0 else 0.99
    bins = np.linspace(lo, max(1.0, max(vals)), 31)
    ax.hist(vals, bins=bins, color=st.eps_color(eps), edgecolor="k", linewidth=0.4)
    m = median(vals)
    ax.axvline(m, color="k", ls="--", lw=1)
    ax.legend(handles=[Line2D([], [], color="k", ls="--", label=f"median {m:.3f}")],
              fontsize="small", loc="upper left")


# ---------------------------------------------------------------------------------------------
# The figures


def read_idx_images(data_dir, count):
    """The first `count` training images (uint8, count × 28 × 28), or None when absent."""
    for name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"):
        path = os.path.join(data_dir, name)
        if not os.path.exists(path):
            continue
        opener = gzip.open if name.endswith(".gz") else open
        try:
            with opener(path, "rb") as f:
                head = f.read(16)
                if len(head) < 16:
                    raise BadInput(f"{path}: truncated IDX header")
                magic, n, rows, cols = struct.unpack(">IIII", head)
                if magic != 2051:
                    raise BadInput(f"{path}: not an IDX image file (magic {magic}, expected 2051)")
                k = min(count, n)
                buf = f.read(k * rows * cols)
        except (OSError, EOFError) as e:
            raise BadInput(f"{path}: cannot read ({e})")
        if len(buf) < k * rows * cols:
            raise BadInput(f"{path}: truncated: fewer than {k} images")
        return np.frombuffer(buf, dtype=np.uint8).reshape(k, rows, cols)
    return None


def jitter(images, eps, rng):
    """study §1: p/255, one δ ~ U(−ε, ε) per image added to every pixel, clamped to [0, 1]."""
    x = images.astype(np.float64) / 255.0
    d = rng.uniform(-eps, eps, size=(x.shape[0], 1, 1)) if eps > 0 else np.zeros((x.shape[0], 1, 1))
    return np.clip(x + d, 0.0, 1.0), d.ravel()


def mosaic(x, rows, cols, gap=2):
    """Images (k × h × w, values in [0, 1]) tiled rows × cols on a white background."""
    k, h, w = x.shape
    out = np.ones((rows * (h + gap) - gap, cols * (w + gap) - gap))
    for i in range(min(k, rows * cols)):
        r, c = divmod(i, cols)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = x[i]
    return out


def fig1(sweep, st, images):
    fig, axs = plt.subplots(1, 2, figsize=st.size(13, 3.9))
    fig.suptitle("Fig. 1 — FashionMNIST training images with brightness jitter "
                 "(δ ~ U(−ε, ε) added to every pixel, clamped to [0, 1])")
    for ax, e in zip(axs, [0.0, 0.75]):
        ax.set_xticks([])
        ax.set_yticks([])
        for s in ax.spines.values():
            s.set_edgecolor(st.eps_color(e))
            s.set_linewidth(2)
        if images is None:
            ax.set_title(f"ε = {e:g}")
            ax.text(0.5, 0.5, "no IDX files in --data\n(placeholder)", transform=ax.transAxes,
                    ha="center", va="center", color="0.35")
            sweep.missing["fig1_samples"].add("FashionMNIST IDX files")
            continue
        x, _ = jitter(images, e, np.random.default_rng(1234))
        ax.imshow(mosaic(x, 4, 8), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(f"ε = {e:g}: the first {x.shape[0]} training images (pixel value 0 = black, 1 = white)",
                     fontsize="medium")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def fig2(sweep, st):
    fig, (a, b) = plt.subplots(1, 2, figsize=st.size(13, 5.6), gridspec_kw={"width_ratios": [1, 1.3]})
    fig.suptitle("Fig. 2 — Detaching LayerNorm's backward pass hurts; E and EI networks are equivalent")
    scatter_pairs(a, sweep, st, "fig2_ln_detach", "ei-ln+", "ei-ln-", "EI LN+ (exact backward)",
                  "EI LN− (detached)")
    a.set_title("Final accuracy per shared configuration", fontsize="medium")
    a.grid(alpha=0.3)

    name = "fig2_ln_detach"
    missing = [v for v in ("ei-ln+", "e-ln+") if not sweep.has(v)]
    b.set_ylabel("test accuracy (%)")
    if missing:
        no_data(b, sweep, name, missing)
        b.set_title(f"EI LN+ vs E LN+ (best {sweep.fig2_n})", fontsize="medium")
        return fig
    groups, ps = [], []
    for e in sweep.eps:
        x, y = sweep.best("ei-ln+", e, sweep.fig2_n), sweep.best("e-ln+", e, sweep.fig2_n)
        _, p = mann_whitney(x, y)
        ps.append(f"ε={e:g}: {fmt_p(p)}")
        groups.append((f"ε = {e:g}\np = {fmt_p(p)}", [("EI LN+", x, st.eps_color(e)),
                                                       ("E LN+", y, st.eps_color(e), "///")]))
    zoom_above_chance(b, boxes(b, st, groups, "test accuracy (%)"))
    b.legend(handles=[Patch(facecolor="0.8", label="EI LN+"), Patch(facecolor="0.8", hatch="///", label="E LN+")],
             fontsize="small", loc="lower left")
    b.set_title(f"EI LN+ vs E LN+, best {sweep.fig2_n} runs per ε\n"
                f"two-sided Mann-Whitney U p — " + ", ".join(ps), fontsize="medium")
    b.grid(axis="y", alpha=0.3)
    return fig


def fig3(sweep, st):
    name = "fig3_activity"
    fig, (a, b) = plt.subplots(1, 2, figsize=st.size(13, 5.2))
    fig.suptitle("Fig. 3 — Hidden-layer activity at the end of training (runs that did not diverge; "
                 "every hidden layer)")
    eps = sweep.eps or [EPS_HIST]
    for ax, which, ylabel, line, log in (
            (a, 0, "activity mean  mean_k z  (a.u.)", 0.0, False),
            (b, 1, "second moment  var_k z + (mean_k z)²  (a.u.)", 1.0, True)):
        groups, any_data = [], False
        for glabel, variants in ACTIVITY_GROUPS:
            present = [v for v in variants if sweep.has(v)]
            for v in variants:
                if v not in present:
                    sweep.missing[name].add(v)
            items = []
            for e in eps:
                vals = sweep.moments(present, e)[which] if present else []
                any_data |= bool(vals)
                items.append((f"{e:g}", vals, st.eps_color(e)))
            label = glabel + ("" if present else "\n(no data for " + ", ".join(variants) + ")")
            groups.append((label, items))
        if not any_data:
            no_data(ax, sweep, name, [v for _, vs in ACTIVITY_GROUPS for v in vs])
            ax.set_ylabel(ylabel)
            continue
        boxes(ax, st, groups, ylabel, log=log, points=True)
        if log:
            log_labels(ax)
        ax.axhline(line, color="k", ls="--", lw=1)
        ax.set_xlabel("ε (brightness jitter)", labelpad=32)
        ax.grid(axis="y", alpha=0.3)
    a.set_title("Mean (LayerNorm: 0, dashed)", fontsize="medium")
    b.set_title("Second moment (LayerNorm: 1, dashed; log axis)", fontsize="medium")
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


def inorm_figure(sweep, st, name, variant, title):
    fig, axs = plt.subplots(2, 2, figsize=st.size(12, 10))
    fig.suptitle(title)
    ref = sweep.ln_ref()
    a, b, c, d = axs.ravel()
    scatter_pairs(a, sweep, st, name, ref, variant, "LN+ (" + ref + ")", variant)
    nd = sum(sweep.n_diverged(variant, e) for e in sweep.eps)
    nr = len(sweep.runs(variant))
    a.set_title("Final accuracy per shared configuration"
                + (f"\n{variant}: {nd} of {nr} runs diverged" if nr else ""), fontsize="medium")
    a.grid(alpha=0.3)
    eh = sweep.hist_eps([variant])
    cos_hist(b, sweep, st, name, variant, "out_cos", eh, "output")
    cos_hist(c, sweep, st, name, variant, "grad_cos", eh, "gradient")

    d.set_xlabel("epoch")
    d.set_ylabel("cosine to LN+ (median over runs × layers)")
    d.set_title(f"{variant}: alignment with LayerNorm during training", fontsize="medium")
    if not sweep.has(variant):
        no_data(d, sweep, name, variant)
    else:
        drawn = []
        for e in sweep.eps:
            for field, ls in (("out_cos", "-"), ("grad_cos", "--")):
                series = sweep.diag_by_epoch(variant, e, field)
                if series:
                    d.plot(list(series), [median(v) for v in series.values()], ls=ls, marker="o",
                           ms=3, color=st.eps_color(e))
                    if e not in drawn:
                        drawn.append(e)
        if not drawn:
            no_data(d, sweep, name, [f"{variant} diagnostics"])
        else:
            d.set_ylim(min(0.0, d.get_ylim()[0]), 1.02)
            d.xaxis.set_major_locator(MaxNLocator(integer=True))
            d.grid(alpha=0.3)
            st.eps_legend(d, drawn, [Line2D([], [], ls="-", color="0.3", label="output"),
                                     Line2D([], [], ls="--", color="0.3", label="gradient")],
                          loc="best", ncol=2)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig


def fig4(sweep, st):
    return inorm_figure(sweep, st, "fig4_inorm_forward", "inorm-",
                        "Fig. 4 — I-Norm without error normalization (inorm−): activity is normalized, "
                        "the error is not")


def fig5(sweep, st):
    return inorm_figure(sweep, st, "fig5_inorm_full", "inorm+",
                        "Fig. 5 — I-Norm with error normalization (inorm+) matches LN+")


def fig6(sweep, st):
    name = "fig6_error_parts"
    parts = ["inorm-center", "inorm-decorrelate", "inorm-scale"]
    n = len(sweep.eps)
    rows = max(1, math.ceil(n / 2))
    fig = plt.figure(figsize=st.size(13, 4.2 + 4.0 * rows))
    fig.suptitle("Fig. 6 — Which part of error normalization matters: center, decorrelate, scale")
    gs = fig.add_gridspec(2, 1, height_ratios=[1, 1.1 * rows], hspace=0.35)
    top = gs[0].subgridspec(1, 3, wspace=0.3)
    eh = sweep.hist_eps(parts)
    for j, v in enumerate(parts):
        ax = fig.add_subplot(top[0, j])
        cos_hist(ax, sweep, st, name, v, "grad_cos", eh, "gradient")
    axes = eps_grid_axes(fig, gs[1], n)
    accuracy_panels(axes, sweep, st, name, ["inorm-scale", "inorm-decorrelate", "inorm-center", "inorm+"])
    return fig


def fig7(sweep, st):
    name = "fig7_lateral"
    variants = ["inorm-fa", "inorm-center", "inorm+"]
    n = len(sweep.eps)
    rows = max(1, math.ceil(n / 2))
    fig = plt.figure(figsize=st.size(15, 1.0 + 4.0 * rows))
    fig.suptitle("Fig. 7 — Centering the error by random lateral inhibition (inorm-fa) is enough")
    gs = fig.add_gridspec(1, 2, width_ratios=[2, 1], wspace=0.25)
    axes = eps_grid_axes(fig, gs[0], n)
    accuracy_panels(axes, sweep, st, name, variants)

    ax = fig.add_subplot(gs[1])
    ax.set_title("Largest eigenvalue of the error covariance\n(final epoch, hidden layers)",
                 fontsize="medium")
    ylabel = "λ_max of cov(g) across the batch (a.u., log)"
    present = [v for v in variants if sweep.has(v)]
    if not present or not sweep.eps:
        no_data(ax, sweep, name, variants)
        ax.set_ylabel(ylabel)
        return fig
    hatches = {"inorm-fa": "", "inorm-center": "///", "inorm+": "..."}
    groups, any_data = [], False
    for e in sweep.eps:
        items = []
        for v in variants:
            vals = [x for x in sweep.diag(v, e, "err_eig") if x > 0]
            any_data |= bool(vals)
            items.append((v, vals, st.eps_color(e), hatches[v]))
        groups.append((f"ε = {e:g}", items))
    if not any_data:
        no_data(ax, sweep, name, [v + " err_eig" for v in present])
        ax.set_ylabel(ylabel)
        return fig
    boxes(ax, st, groups, ylabel, log=True, box_ticks=False)
    log_labels(ax)
    ax.set_xlabel("ε (brightness jitter)")
    ax.legend(handles=[Patch(facecolor="0.85", edgecolor="k", hatch=hatches[v],
                             label=SHORT.get(v, v).replace("\n", " ") + ("" if sweep.has(v) else " (no data)"))
                       for v in variants], fontsize="small", loc="best")
    ax.grid(axis="y", alpha=0.3)
    return fig


# ---------------------------------------------------------------------------------------------
# Synaptic geometry (figs 8 and 9): records written with --diag.geometry 1 (models/geometry.h)

LN10 = math.log(10.0)
# Learning rules: (opt.algorithm, sign-freeze?) → key, label, colour (fig8), line style (fig9).
RULES = {("sgd", False): ("sgd", "SGD", "tab:blue", "-"),
         ("sgd", True): ("sgd-freeze", "SGD (sign-freeze)", "tab:purple", "-."),
         ("eg", False): ("eg", "EG", "tab:red", "--"),
         ("adamw", False): ("adamw", "AdamW", "tab:green", ":"),
         ("adamw", True): ("adamw-freeze", "AdamW (sign-freeze)", "tab:olive", (0, (3, 1, 1, 1, 1, 1)))}
RULE_ORDER = ["sgd", "sgd-freeze", "eg", "adamw", "adamw-freeze"]
# Config keys that do not make runs different conditions: output paths, the run's name, the
# data's location, the device, diagnostics; and the two a condition pools over (seed, rank).
GEOM_IGNORED = ("exp.out", "exp.ckpt", "exp.init", "exp.run", "data.dir", "model.device",
                "train.seed", "model.init_rank")
GEOM_DEFAULTS = {"opt.gd_signs": "clamp", "model.init_gain": 1.0, "opt.algorithm": "sgd"}
GEOM_NAMED = ("model.variant", "opt.algorithm", "opt.gd_signs", "opt.lr", "model.init_gain")
FIG8_LAYERS = ("fc0", "fc1", "fc_output")   # fig8's columns: <layer>.Wex (fc1 when present)


def num(x):
    """x as a finite float, else None (missing, null = NaN in dale's JSON, bool, string, ±inf)."""
    if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x):
        return float(x)
    return None


def lr_value(x):
    """A learning rate rounded to float32's 6 significant digits (records hold float32 rates
    written as doubles: 0.005 may read 0.004999999888), None when not a finite number."""
    x = num(x)
    return float(f"{x:.6g}") if x is not None else None


def fmt_lr(lr):
    return "?" if lr is None else f"{lr:g}"


def flatten_config(cfg, prefix=""):
    out = {}
    if not isinstance(cfg, dict):
        return out
    for k, v in cfg.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_config(v, key + "."))
        elif isinstance(v, float):
            out[key] = float(f"{v:.6g}") if math.isfinite(v) else str(v)
        elif isinstance(v, list):
            out[key] = json.dumps(v, sort_keys=True)
        else:
            out[key] = v
    return out


def mean_sd(xs):
    """{"n", "mean", "sd"} of the finite values: sd is the sample sd (ddof 1), 0 for one value."""
    xs = finite(xs)
    if not xs:
        return {"n": 0, "mean": None, "sd": None}
    with np.errstate(over="ignore", invalid="ignore"):   # huge values: an infinite sd, written null
        return {"n": len(xs), "mean": float(np.mean(xs)),
                "sd": float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0}


class GeoRun:
    """A run whose records carry "geometry": its final (highest-epoch) and initial measurements
    and the configuration it shares with other runs."""

    def __init__(self, run):
        self.run = run
        f = run.final
        g = f.get("geometry")
        self.final = g if isinstance(g, dict) else {}
        first = run.by_epoch.get(1) or run.by_epoch[min(run.by_epoch)]
        g1 = first.get("geometry")
        init = g1.get("init") if isinstance(g1, dict) else None
        self.init = init if isinstance(init, dict) else {}
        self.init_hist = g1.get("hist") if isinstance(g1, dict) else None
        flat = flatten_config(f.get("config"))
        for k, v in GEOM_DEFAULTS.items():
            flat.setdefault(k, v)
        flat["model.variant"] = run.variant
        rank = flat.get("model.init_rank", 0)
        self.rank = int(rank) if isinstance(rank, (int, float)) and not isinstance(rank, bool) \
            and math.isfinite(rank) and rank >= 0 and rank == int(rank) else None
        self.algorithm = str(flat["opt.algorithm"])
        self.gd_signs = str(flat["opt.gd_signs"])
        freeze = self.gd_signs == "freeze" and self.algorithm != "eg"   # EG never changes a sign
        self.rule, self.rule_label, self.color, self.ls = RULES.get(
            (self.algorithm, freeze),
            (self.algorithm + ("-freeze" if freeze else ""),
             self.algorithm.upper() + (" (sign-freeze)" if freeze else ""), "tab:brown", "-"))
        self.lr = lr_value(flat.get("opt.lr"))
        self.gain = num(flat.get("model.init_gain"))
        self.flat = {k: v for k, v in flat.items()
                     if k not in GEOM_IGNORED and not k.startswith("diag.")}
        self.flat["opt.lr"] = self.lr
        self.key = json.dumps(sorted(self.flat.items()), default=str)

    @property
    def variant(self):
        return self.run.variant

    @property
    def acc(self):
        return self.run.acc


def geo_stats(geom, layer, param):
    layer = geom.get(layer) if isinstance(geom, dict) else None
    st = layer.get(param) if isinstance(layer, dict) else None
    return st if isinstance(st, dict) else None


def geo_num(geom, layer, key):
    layer = geom.get(layer) if isinstance(geom, dict) else None
    return num(layer.get(key)) if isinstance(layer, dict) else None


def hist_spec(h):
    """(lo, width, bins) of a record's "hist", or None when malformed."""
    if not isinstance(h, dict):
        return None
    lo, w, b = num(h.get("lo")), num(h.get("width")), h.get("bins")
    if lo is None or w is None or w <= 0 or not isinstance(b, int) or isinstance(b, bool) or b < 1:
        return None
    return (lo, w, b)


def stats_hist(st, bins):
    """A stats block's log10_hist as a float array of `bins` counts ≥ 0, with its n, or None."""
    if st is None:
        return None
    h, n = st.get("log10_hist"), num(st.get("n"))
    if not isinstance(h, list) or len(h) != bins or n is None or n <= 0:
        return None
    vals = [num(x) for x in h]
    if any(x is None or x < 0 for x in vals):
        return None
    return np.asarray(vals, dtype=np.float64), n


class Geometry:
    """The runs with geometry, and the groups of runs whose configurations differ only by seed
    and initial rank."""

    def __init__(self, runs):
        self.present = any(rec.get("geometry") is not None for r in runs.values()
                           for rec in r.by_epoch.values())
        self.runs = [GeoRun(r) for r in sorted(runs.values(), key=lambda r: r.name)
                     if any(rec.get("geometry") is not None for rec in r.by_epoch.values())]
        self.variants = sorted({r.variant for r in self.runs})
        self.groups = defaultdict(list)          # config key (without seed and rank) → runs
        for r in self.runs:
            self.groups[r.key].append(r)
        # Keys other than the named ones that differ between groups: they go into the labels.
        keys = sorted({k for r in self.runs for k in r.flat})
        self.extra = [k for k in keys if k not in GEOM_NAMED and k != "model.init_rank"
                      and len({json.dumps(r.flat.get(k), default=str) for r in self.runs}) > 1]
        spec = [hist_spec(r.final.get("hist")) for r in self.runs if r.final]
        spec = [s for s in spec if s]
        self.spec = max(set(spec), key=spec.count) if spec else (-10.0, 0.1, 110)

    def has_layer(self, layer):
        return any(isinstance(r.final.get(layer), dict) for r in self.runs)

    def extras(self, r):
        return "".join(f", {k}={r.flat.get(k)}" for k in self.extra)

    def group_label(self, rs, rank=False):
        r = rs[0]
        s = f"{r.variant} {r.rule_label}, lr {fmt_lr(r.lr)}"
        if r.gain is not None and r.gain != 1.0:
            s += f", gain {r.gain:g}"
        if rank:
            s += ", rank " + ("full" if r.rank == 0 else str(r.rank))
        return s + self.extras(r)


def rank_groups(rs):
    """{rank: runs} of a group."""
    out = defaultdict(list)
    for r in rs:
        if r.rank is not None:
            out[r.rank].append(r)
    return out


def fig8_choice(geo, variant, lr):
    """Per learning rule of `variant`: (rule, label, the chosen candidate, every candidate).
    A candidate is a group (runs whose configurations differ only by seed) at one initial rank:
    full rank, or any rank when the rule has no full-rank run. The chosen one has the best median
    final test accuracy (ties: more runs, then the smaller lr), among those at `lr` when
    --geometry-lr gives one (None when none is there)."""
    by_rule = defaultdict(list)
    for rs in geo.groups.values():
        if rs[0].variant == variant:
            for rank, rr in rank_groups(rs).items():
                by_rule[(rs[0].rule, rs[0].rule_label)].append((rank, rr))
    out = []
    for rule, label in sorted(by_rule, key=lambda k: (RULE_ORDER.index(k[0]) if k[0] in RULE_ORDER else 99, k)):
        cands = by_rule[(rule, label)]
        cands = [(k, rr) for k, rr in cands if k == 0] or cands
        info = []
        for rank, rr in cands:
            accs = finite([r.acc for r in rr])
            info.append({"lr": rr[0].lr, "rank": rank, "label": geo.group_label(rr, rank=True),
                         "runs": len(rr), "median_test_acc": median(accs) if accs else None, "_runs": rr})
        info.sort(key=lambda c: (c["lr"] if c["lr"] is not None else math.inf, c["label"]))
        pool = info if lr is None else [c for c in info if c["lr"] is not None
                                         and abs(c["lr"] - lr) <= 1e-6 * abs(lr)]
        score = lambda c: (-c["median_test_acc"] if c["median_test_acc"] is not None else math.inf,
                           -c["runs"], c["lr"] if c["lr"] is not None else math.inf, c["label"])
        out.append((rule, label, min(pool, key=score) if pool else None, info))
    return out


def median_of(stats, key):
    """The median of a field over the stats blocks that have it as a finite number, else None."""
    xs = finite([s.get(key) for s in stats if s is not None])
    return median(xs) if xs else None


def pooled_hist(stats, spec):
    """(summed counts, summed n, runs) of the stats blocks whose histogram is well formed."""
    counts, n, used = np.zeros(spec[2]), 0.0, 0
    for s in stats:
        h = stats_hist(s, spec[2])
        if h is not None:
            counts += h[0]
            n += h[1]
            used += 1
    return counts, n, used


def lognormal_fit(stats, x):
    """The mean over runs of each run's fitted log-normal as a density in log10 w, scaled to its
    positive fraction: N(x; log_mean/ln 10, log_sd/ln 10) · positive/n. (curve, runs, mean μ, σ)."""
    curve, mus, sds = np.zeros_like(x), [], []
    for s in stats:
        mu, sd, p, n = (num(s.get(k)) for k in ("log_mean", "log_sd", "positive", "n"))
        if mu is None or sd is None or sd <= 0 or p is None or n is None or n <= 0:
            continue
        mu, sd = mu / LN10, sd / LN10
        curve += p / n * np.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
        mus.append(mu)
        sds.append(sd)
    k = len(mus)
    return (curve / k if k else curve), k, (float(np.mean(mus)) if k else None), \
        (float(np.mean(sds)) if k else None)


def fig8(sweep, st):
    name = "fig8_weight_hist"
    geo = sweep.geo
    lo, width, bins = geo.spec
    edges = lo + width * np.arange(bins + 1)
    layers = [l for l in FIG8_LAYERS if l != "fc1" or geo.has_layer("fc1")]
    rows = geo.variants or ["(none)"]
    fig, axs = plt.subplots(len(rows), len(layers), squeeze=False,
                            figsize=st.size(5.0 * len(layers), 0.8 + 3.4 * len(rows)))
    fig.suptitle("Fig. 8 — Excitatory weights at the end of training: log10 w, summed over seeds "
                 "(thin: fitted log-normals; grey dashed: the initial weights)")
    numbers = {"lr": f"--geometry-lr {fmt_lr(sweep.geometry_lr)}" if sweep.geometry_lr is not None else
                     "per (variant, rule): the lr whose runs have the best median final test accuracy",
               "runs": "final records (highest epoch); full rank (model.init_rank 0) where a rule has "
                       "such runs, else the best rank",
               "density": "counts / (entries of every run × bin width): per unit log10 w, of all entries "
                          "(those at the floor have no log)",
               "fit": "mean over runs of N(log10 w; log_mean/ln 10, log_sd/ln 10) × positive/n",
               "hist": {"lo": lo, "width": width, "bins": bins}, "rows": []}
    sweep.numbers[name] = numbers
    if not geo.variants:
        for ax in axs[0]:
            no_data(ax, sweep, name, ["geometry records"])
    for i, v in enumerate(geo.variants):
        choices = fig8_choice(geo, v, sweep.geometry_lr)
        row = {"variant": v, "rules": []}
        numbers["rows"].append(row)
        for rule, label, best, info in choices:
            row["rules"].append({"rule": rule, "label": label, "lr": best["lr"] if best else None,
                                 "rank": best["rank"] if best else None, "runs": best["runs"] if best else 0,
                                 "median_test_acc": best["median_test_acc"] if best else None,
                                 "candidates": [{k: c[k] for k in ("lr", "rank", "label", "runs",
                                                                   "median_test_acc")} for c in info],
                                 "matrices": {}})
            if best is None:
                sweep.missing[name].add(f"{v} {label} at lr {fmt_lr(sweep.geometry_lr)}")
        for j, layer in enumerate(layers):
            ax = axs[i][j]
            mat = f"{layer}.Wex"
            ax.set_title(f"{v}: {mat}", fontsize="medium")
            ax.set_xlabel("log10 w")
            if j == 0:
                ax.set_ylabel("density (share of all entries per unit log10 w)")
            drawn, inits = [], {}
            for (rule, label, best, info), out in zip(choices, row["rules"]):
                rs = best["_runs"] if best else []
                # The histogram of a run's end: its final record's, when well formed and in the
                # common bins; the KS distances: every final record that has them.
                final = [geo_stats(r.final, layer, "Wex") for r in rs]
                end = [s for r, s in zip(rs, final) if s is not None
                       and hist_spec(r.final.get("hist")) == geo.spec and stats_hist(s, bins) is not None
                       and num(s.get("positive")) is not None and num(s.get("floor_frac")) is not None]
                init = [geo_stats(r.init, layer, "Wex") for r in rs]
                init_ok = {r.run.name: s for r, s in zip(rs, init) if s is not None
                           and hist_spec(r.init_hist) == geo.spec and stats_hist(s, bins) is not None}
                counts, n, used = pooled_hist(end, geo.spec)
                m = {"runs": used, "entries": n if used else None,
                     "positive_frac": sum(num(s["positive"]) for s in end) / n if used else None,
                     "floor_frac": sum(num(s["floor_frac"]) * num(s["n"]) for s in end) / n if used else None,
                     "hist_counts": [float(c) for c in counts] if used else None,
                     "ks_lognormal_median": median_of(final, "ks_lognormal"),
                     "ks_normal_median": median_of(final, "ks_normal"),
                     "ks_runs": len(finite([s.get("ks_lognormal") for s in final if s])),
                     "init": {"runs": len(init_ok), "ks_lognormal_median": median_of(init, "ks_lognormal"),
                              "ks_normal_median": median_of(init, "ks_normal")}}
                out["matrices"][mat] = m
                if used:
                    drawn.append((out, info, m, counts / (n * width), rs[0].color, end))
                    inits.update(init_ok)
            c0, n0, k0 = pooled_hist(inits.values(), geo.spec)
            nz = np.nonzero(sum(d[3] for d in drawn) + c0)[0] if drawn else []
            if not len(nz):
                no_data(ax, sweep, name, [f"{v} {mat}"], clear=False)
                continue
            xlo, xhi = lo + width * (nz.min() - 2), lo + width * (nz.max() + 3)
            for d in drawn:   # and the fits' μ ± 3σ, within the bins' range
                _, k, mu, sd = lognormal_fit(d[5], np.zeros(0))
                if k:
                    xlo = max(min(xlo, mu - 3 * sd), lo)
                    xhi = min(max(xhi, mu + 3 * sd), lo + width * bins)
            x = np.linspace(xlo, xhi, 400)
            handles = []
            for out, info, m, dens, color, end in drawn:
                ax.stairs(dens, edges, color=color, lw=1.6)
                curve, k, mu, sd = lognormal_fit(end, x)
                m.update({"fit_runs": k, "fit_log10_mean": mu, "fit_log10_sd": sd})
                if k:
                    ax.plot(x, curve, color=color, lw=0.7)
                lab = f"{out['label']}, lr {fmt_lr(out['lr'])}"
                lrs = sorted({c["lr"] for c in info if c["lr"] is not None})
                if sweep.geometry_lr is None and len(lrs) > 1:
                    lab += " (best of " + ", ".join(fmt_lr(r) for r in lrs) + ")"
                if out["rank"] not in (0, None):
                    lab += f", rank {out['rank']}"
                lab += f"; {m['runs']} runs"
                if m["floor_frac"] > 0:
                    lab += f"; {100 * m['floor_frac']:.3g} % at floor"
                if m["ks_lognormal_median"] is not None:
                    lab += f"; KS {m['ks_lognormal_median']:.2f}"
                handles.append(Line2D([], [], color=color, lw=1.6, label=lab))
            if k0:
                ax.stairs(c0 / (n0 * width), edges, color="0.45", ls="--", lw=1.2)
                handles.append(Line2D([], [], color="0.45", ls="--", label=f"initial weights ({k0} runs)"))
            handles.append(Line2D([], [], color="0.3", lw=0.7, label="fitted log-normal (thin)"))
            ax.set_xlim(xlo, xhi)
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            ax.legend(handles=handles, fontsize="x-small", loc="upper left")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig


def silent(geom, layer):
    """Whether a run's final geometry says `layer` had no activity on the fixed batch: dale
    writes its undefined CKA (a zero Gram matrix) as null. A malformed entry is not silence."""
    entry = geom.get(layer) if isinstance(geom, dict) else None
    return isinstance(entry, dict) and "cka" in entry and entry["cka"] is None


def fig9(sweep, st):
    name = "fig9_rank_regime"
    geo = sweep.geo
    fig, axs = plt.subplots(1, 3, figsize=st.size(16, 5.4))
    fig.suptitle("Fig. 9 — Initial rank of Wex and the learning regime: weight change, "
                 "representation change, accuracy (mean ± sd over seeds; (a), (b) without diverged or silent networks)")
    a, b, c = axs
    has_fc1 = geo.has_layer("fc1")
    layers = ["fc0", "fc1"] if has_fc1 else ["fc0"]
    ranks = sorted({r.rank for r in geo.runs if r.rank is not None and r.rank > 0})
    full_x = 2.0 ** (math.ceil(math.log2(max(ranks))) + 1) if ranks else 1.0
    xpos = lambda k: full_x if k == 0 else float(k)
    numbers = {"x": "model.init_rank (0 = full rank, drawn as 'full')",
               "sd": "sample sd over runs (ddof 1), 0 for one run",
               "groups": "runs whose configurations differ only by seed and model.init_rank",
               "full_rank_x": full_x, "group": []}
    sweep.numbers[name] = numbers
    var_color = {v: plt.get_cmap("tab10")(k % 10) for k, v in enumerate(geo.variants)}
    shade = defaultdict(int)
    drawn_any = False
    keys = sorted(geo.groups, key=lambda k: (geo.groups[k][0].variant,
                                             RULE_ORDER.index(geo.groups[k][0].rule)
                                             if geo.groups[k][0].rule in RULE_ORDER else 99,
                                             geo.groups[k][0].lr or 0.0, k))
    markers = {"fc0": "o", "fc1": "s"}
    plotted = defaultdict(list)   # panel → the means drawn (a log axis when they span decades)
    for key in keys:
        rs = geo.groups[key]
        r0 = rs[0]
        by_rank = rank_groups(rs)
        if not by_rank:
            continue
        k = shade[(r0.variant, r0.rule)]
        shade[(r0.variant, r0.rule)] += 1
        base = np.array(var_color[r0.variant][:3])
        color = tuple(base * (0.75 ** k))    # a second group of one (variant, rule): darker
        label = geo.group_label(rs)
        g = {"label": label, "variant": r0.variant, "rule": r0.rule, "algorithm": r0.algorithm,
             "gd_signs": r0.gd_signs, "lr": r0.lr, "init_gain": r0.gain,
             "other": {k2: r0.flat.get(k2) for k2 in geo.extra}, "runs": 0, "ranks": []}
        numbers["group"].append(g)
        order = sorted(by_rank, key=xpos)
        series = defaultdict(list)
        for rank in order:
            rr = by_rank[rank]
            # A network that diverged, or whose last hidden layer fell silent (no activity on the
            # fixed batch: its CKA is undefined, written as null), learned nothing: its weight and
            # representation changes are left out of (a) and (b); its accuracy counts in (c).
            live = [r for r in rr if not r.run.diverged and not silent(r.final, layers[-1])]
            e = {"rank": rank, "runs": len(rr), "silent_or_diverged": len(rr) - len(live), "rel_change": {},
                 "one_minus_cka": {}, "test_acc": mean_sd([r.acc for r in rr])}
            g["runs"] += len(rr)
            for layer in layers:
                rc = [num((geo_stats(r.final, layer, "Wex") or {}).get("rel_change")) for r in live]
                e["rel_change"][f"{layer}.Wex"] = mean_sd([x for x in rc if x is not None])
                ck = [geo_num(r.final, layer, "cka") for r in live]
                e["one_minus_cka"][layer] = mean_sd([1.0 - x for x in ck if x is not None])
                series[("rel", layer)].append((xpos(rank), e["rel_change"][f"{layer}.Wex"]))
                series[("cka", layer)].append((xpos(rank), e["one_minus_cka"][layer]))
            series[("acc", None)].append((xpos(rank), e["test_acc"]))
            g["ranks"].append(e)
        for (what, layer), pts in series.items():
            ax = {"rel": a, "cka": b, "acc": c}[what]
            pts = [(x, s) for x, s in pts if s["n"]]
            if not pts:
                continue
            drawn_any = True
            plotted[what] += [s["mean"] for _, s in pts]
            mk = markers.get(layer, "o")
            ax.errorbar([x for x, _ in pts], [s["mean"] for _, s in pts], yerr=[s["sd"] for _, s in pts],
                        color=color, ls=r0.ls, marker=mk, ms=4, capsize=2, lw=1.2,
                        mfc=color if layer != "fc1" else "white")
    for ax, ylabel, title in (
            (a, "‖W − W₀‖_F / ‖W₀‖_F", "(a) relative change of Wex"),
            (b, "1 − CKA(activity now, at init)", "(b) representation change of hidden layers"),
            (c, "test accuracy (%)", "(c) final test accuracy")):
        ax.set_title(title, fontsize="medium")
        ax.set_ylabel(ylabel)
        ax.set_xlabel("initial rank of Wex")
        ax.set_xscale("log")
        ticks = ranks + [full_x]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FixedFormatter([str(k) for k in ranks] + ["full"]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(min(ticks) / 1.6, max(ticks) * 1.6)
        ys = finite(plotted[{a: "rel", b: "cka", c: "acc"}[ax]])
        if ax is not c and ys and min(ys) > 0 and max(ys) / min(ys) > 30:
            ax.set_yscale("log")
            ax.set_ylabel(ylabel + " (log)")
        ax.grid(alpha=0.3)
        if not drawn_any:
            no_data(ax, sweep, name, ["geometry records (final epochs)"], clear=False)
    if drawn_any:
        handles = [Line2D([], [], color=var_color[v], lw=2, label=v) for v in geo.variants]
        rules = sorted({(r.rule, r.rule_label, r.ls) for r in geo.runs},
                       key=lambda t: RULE_ORDER.index(t[0]) if t[0] in RULE_ORDER else 99)
        handles += [Line2D([], [], color="0.3", ls=ls, label=lab) for _, lab, ls in rules]
        mh = [Line2D([], [], color="0.3", marker="o", ls="", label="fc0")]
        if has_fc1:
            mh.append(Line2D([], [], color="0.3", marker="s", mfc="white", ls="", label="fc1"))
        a.legend(handles=mh, fontsize="x-small", loc="best")
        if len(numbers["group"]) > len(shade):
            handles.append(Line2D([], [], ls="", label="darker: another lr, gain, …\nof a variant and rule"))
        c.legend(handles=handles, fontsize="x-small", loc="best")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


FIGURES = [("fig1_samples", None), ("fig2_ln_detach", fig2), ("fig3_activity", fig3),
           ("fig4_inorm_forward", fig4), ("fig5_inorm_full", fig5), ("fig6_error_parts", fig6),
           ("fig7_lateral", fig7), ("fig8_weight_hist", fig8), ("fig9_rank_regime", fig9)]
GEOMETRY_FIGURES = ("fig8_weight_hist", "fig9_rank_regime")   # drawn when a record has "geometry"


# ---------------------------------------------------------------------------------------------
# Command line


def save(fig, out_dir, name, st):
    paths = []
    for ext in ("png", "svg"):
        p = os.path.join(out_dir, f"{name}.{ext}")
        meta = {"Software": None} if ext == "png" else {"Date": None, "Creator": None}
        fig.savefig(p, dpi=st.dpi, bbox_inches="tight", metadata=meta)
        paths.append(p)
    plt.close(fig)
    return paths


def save_numbers(numbers, out_dir, name):
    """<name>.json: the numbers a figure draws (NaN written as null), for readers and tests."""
    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x
    p = os.path.join(out_dir, f"{name}.json")
    with open(p, "w") as f:
        json.dump(clean(numbers), f, indent=1)
        f.write("\n")
    return p


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="tools/figures.py",
        description="The study's seven figures (docs/study.md §11) from dale's JSON Lines records (PNG + SVG), "
                    "and figs 8 and 9 of synaptic geometry when the records carry it.")
    ap.add_argument("files", nargs="*", metavar="FILES", help="JSON Lines files (shards are concatenated)")
    ap.add_argument("--out", default="figures", help="output folder (default: figures/)")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist",
                    help="folder with FashionMNIST's IDX files, for fig1 (default: %(default)s)")
    ap.add_argument("--best", type=int, default=None, metavar="N",
                    help="box plots and their tests of the best N runs per condition: figs 2, 6 and 7 "
                         "(default: fig2 the best 10, figs 6 and 7 all runs, as the study)")
    ap.add_argument("--smoke", action="store_true",
                    help="CI preset: small, low-DPI figures; fig1 placeholder without IDX files")
    ap.add_argument("--geometry-lr", type=float, default=None, metavar="LR",
                    help="fig8: the runs at this opt.lr for every variant and rule (default: per variant "
                         "and rule, the lr whose runs have the best median final test accuracy)")
    a = ap.parse_args(argv)
    t0 = time.monotonic()
    try:
        if not a.files:
            raise BadInput("no input files (give the JSON Lines files of dale sweep/compare/train)")
        if a.best is not None and a.best < 1:
            raise BadInput(f"--best {a.best}: must be at least 1")
        if a.geometry_lr is not None and not (math.isfinite(a.geometry_lr) and a.geometry_lr > 0):
            raise BadInput(f"--geometry-lr {a.geometry_lr:g}: must be a finite rate > 0")
        geometry_lr = lr_value(a.geometry_lr) if a.geometry_lr is not None else None
        runs = load(a.files)
        images = read_idx_images(a.data, 32)
        if images is None and not a.smoke:
            raise BadInput(f"{a.data}: no train-images-idx3-ubyte[.gz] (FashionMNIST IDX files) for fig1; "
                           "give --data DIR, install dataset-fashion-mnist, or use --smoke")
    except BadInput as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2

    sweep = Sweep(runs, a.best, geometry_lr)
    st = Style(a.smoke, sweep.eps)
    plt.rcParams.update({"svg.hashsalt": "dale", "font.size": 8 if a.smoke else 10,
                         "figure.dpi": st.dpi})
    try:
        os.makedirs(a.out, exist_ok=True)
    except OSError as e:
        print(f"{PROG}: error: {a.out}: cannot create the output folder ({e.strerror})", file=sys.stderr)
        return 2
    n_div = sum(r.diverged for r in runs.values())
    print(f"{PROG}: {len(runs)} runs ({n_div} diverged), {len(sweep.variants)} variants "
          f"({', '.join(sweep.variants)}), ε ∈ {{{', '.join(f'{e:g}' for e in sweep.eps)}}}")
    n_files = 0
    for name, fn in FIGURES:
        if name in GEOMETRY_FIGURES and not sweep.geo.present:
            if name == GEOMETRY_FIGURES[0]:
                print(f"{', '.join(GEOMETRY_FIGURES)}: skipped (no record carries geometry; "
                      "train with --diag.geometry 1)")
            continue
        fig = fig1(sweep, st, images) if fn is None else fn(sweep, st)
        paths = save(fig, a.out, name, st)
        if name in sweep.numbers:
            paths.append(save_numbers(sweep.numbers[name], a.out, name))
        n_files += len(paths)
        print(f"{name}: {', '.join(paths)}")
    if sweep.missing:
        print("missing (panels drawn with a 'no data' note):")
        for name, _ in FIGURES:
            if sweep.missing.get(name):
                print(f"  {name}: {', '.join(sorted(sweep.missing[name]))}")
    else:
        print("missing: nothing")
    print(f"{PROG}: {n_files} files in {a.out} in {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
