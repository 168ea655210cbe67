#!/usr/bin/python3
"""make_diagnostics_fixtures.py — the study's per-layer measurements, computed independently.

dale logs, per hidden layer and epoch, the measurements the study's code logs (docs/study.md,
"Measurements"): activity moments, output and gradient alignment with layer normalization, the
largest eigenvalue of the error covariance, and the local loss's distance to its target. This
script computes them for small networks in float64 PyTorch, following the study's definitions —
not dale's code — and writes one safetensors fixture per variant to tests/fixtures/diagnostics/:
the parameters (dale's names), a batch `x`, `y`, and the expected values as JSON metadata
("expected"). tests/test_diagnostics.cpp loads each into a dale network and compares.

The weights are random (not the study's initialization, at which an I-Norm layer *is* a layer
norm and every cosine is 1), so a wrong reference (LN of the excitatory drive instead of the
layer's output, say) changes the numbers.

Run with Debian's interpreter (python3-torch):  tools/make_diagnostics_fixtures.py [--out DIR]
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import write_safetensors  # noqa: E402  (the project's small writer)

EPS = 1e-5
SMOOTHING = 0.1
N_IN, WIDTH, N_OUT, BATCH, LAYERS = 30, 24, 10, 32, 2

# variant → (hidden kind, explicit normalization after the layer, G mode of I-Norm layers)
VARIANTS = {
    "ei": ("ei", None, None),
    "ei-ln+": ("ei", "ln", None),
    "e-ln+": ("e", "ln", None),
    "inorm-": ("inorm", None, "none"),
    "inorm+": ("inorm", None, "full"),
    "inorm-scale": ("inorm", None, "scale"),
    "inorm-fa": ("inorm", None, "fa_center"),
    "inorm-sub+": ("sub", None, "center"),
}


def n_inhib(ne):
    return max(1, int(0.1 * ne))


def row_mean(a):
    return a.mean(dim=-1, keepdim=True)


def row_var(a):
    return a.var(dim=-1, keepdim=True, unbiased=False)


def layer_norm(z):
    return torch.nn.functional.layer_norm(z, z.shape[-1:], eps=EPS)  # exact autograd backward


class G(torch.autograd.Function):
    """Identity forward; the backward of an error-normalization mode, from the forward value z."""

    @staticmethod
    def forward(ctx, z, mode, w):
        ctx.save_for_backward(z, w)
        ctx.mode = mode
        return z.clone()

    @staticmethod
    def backward(ctx, g):
        z, w = ctx.saved_tensors
        d = z.shape[-1]
        sigma = torch.sqrt(row_var(z) + EPS)
        if ctx.mode == "none":
            out = g
        elif ctx.mode == "full":
            out = (g - row_mean(g) - z * (g * z).sum(-1, keepdim=True) / d) / sigma
        elif ctx.mode == "center":
            out = g - row_mean(g)
        elif ctx.mode == "fa_center":
            out = g - (w * g).sum(-1, keepdim=True)
        elif ctx.mode == "scale":
            out = g / sigma
        else:
            raise ValueError(ctx.mode)
        return out, None, None


def random_params(gen, kind, n, ne, prefix, mode):
    """Random Dale-signed weights far from a layer-normalizing state (float64)."""
    ni = n_inhib(ne)
    rnd = lambda *s: torch.rand(*s, generator=gen, dtype=torch.float64)  # noqa: E731
    p = {f"{prefix}.Wex": rnd(ne, n) * (2.0 / n) ** 0.5, f"{prefix}.bias": (rnd(ne, 1) - 0.5) * 0.2}
    if kind in ("ei", "inorm", "sub"):
        p[f"{prefix}.Wix"] = rnd(ni, n) * (2.0 / n) ** 0.5
        wei = rnd(ne, ni) + 0.1
        p[f"{prefix}.Wei"] = wei / wei.sum(1, keepdim=True)
    if kind == "inorm":
        p[f"{prefix}.Bix"] = torch.randn(ne, n, generator=gen, dtype=torch.float64) * (1.0 / n) ** 0.5
        p[f"{prefix}.Bei"] = torch.full((ne, ne), 1.0 / ne, dtype=torch.float64)
        if mode == "fa_center":
            w = rnd(ne)
            p[f"{prefix}.fa_w"] = w / w.sum()
    return p


def layer_z(kind, p, prefix, x):
    """z as the layer emits it (before G and any explicit normalization), with its stop-gradients;
    also (e, u) for the local loss's distance to its target."""
    wex, b = p[f"{prefix}.Wex"], p[f"{prefix}.bias"].reshape(1, -1)
    e = x @ wex.t() + b
    if kind == "e":
        return e, None
    if kind == "ei":  # DANN: W = Wex − Wei Wix, every path differentiable
        return e - (x @ p[f"{prefix}.Wix"].t()) @ p[f"{prefix}.Wei"].t(), None
    inh = (x.detach() @ p[f"{prefix}.Wix"].t()) @ p[f"{prefix}.Wei"].t()  # sg(x)
    if kind == "sub":
        return e - inh.detach(), (e.detach(), e.detach() - inh, "mean")
    zd = torch.sqrt((x.detach() @ p[f"{prefix}.Bix"].t()) ** 2 @ p[f"{prefix}.Bei"].t() + EPS)
    return (e - inh.detach()) / zd.detach(), (e.detach(), (e.detach() - inh) / zd, "ln")


def measure(variant, p, x, y):
    kind, norm, mode = VARIANTS[variant]
    out = {k: [] for k in ("mu", "var", "out_cos", "grad_cos", "err_eig", "local_ln_mse")}
    # The forward of the whole network; the task error arriving at each layer's output.
    h, outs, inputs = x, [], []
    for l in range(LAYERS):
        prefix = f"fc{l}"
        inputs.append(h.detach())
        z, _ = layer_z(kind, p, prefix, h)
        o = G.apply(z, mode, p.get(f"{prefix}.fa_w", torch.zeros(1, dtype=torch.float64))) if mode else z
        o.retain_grad()
        outs.append(o)
        h = torch.relu(layer_norm(o) if norm == "ln" else o)
    wo = p["fc_output.Wex"] - p["fc_output.Wei"] @ p["fc_output.Wix"]
    logits = h @ wo.t() + p["fc_output.bias"].reshape(1, -1)
    torch.nn.functional.cross_entropy(logits, y, label_smoothing=SMOOTHING).backward()
    for o in outs:
        g = o.grad
        c = g - g.mean(0, keepdim=True)
        out["err_eig"].append(float(torch.linalg.eigvalsh(c.t() @ c / (g.shape[0] - 1)).max()))
        out["mu"].append(float(row_mean(o).mean()))
        out["var"].append(float(row_var(o).mean()))
    # Alignment, per layer, from the input the network gave it.
    for l in range(LAYERS):
        prefix, xin = f"fc{l}", inputs[l]
        wex = p[f"{prefix}.Wex"]
        fa_w = p.get(f"{prefix}.fa_w", torch.zeros(1, dtype=torch.float64))
        z, local = layer_z(kind, p, prefix, xin)
        own = G.apply(z, mode, fa_w) if mode else z
        ref = G.apply(z, "center", fa_w) if mode == "fa_center" else layer_norm(z)
        g_own = torch.autograd.grad(torch.relu(own).sum(), wex, retain_graph=True)[0]
        g_ref = torch.autograd.grad(torch.relu(ref).sum(), wex, retain_graph=True)[0]
        cos = lambda a, b: float(torch.nn.functional.cosine_similarity(a.reshape(1, -1), b.reshape(1, -1)))  # noqa
        out["out_cos"].append(cos(torch.relu(layer_norm(z)), torch.relu(own)))
        out["grad_cos"].append(cos(g_ref, g_own))
        if local is None:
            out["local_ln_mse"].append(None)
        else:
            e, u, target = local
            t = layer_norm(e) if target == "ln" else e - row_mean(e)
            out["local_ln_mse"].append(float(((u - t) ** 2).mean()))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "diagnostics"))
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for i, variant in enumerate(VARIANTS):
        gen = torch.Generator().manual_seed(a.seed + i)
        kind, _, mode = VARIANTS[variant]
        p, n = {}, N_IN
        for l in range(LAYERS):
            p.update(random_params(gen, kind, n, WIDTH, f"fc{l}", mode))
            n = WIDTH
        p.update(random_params(gen, "ei", WIDTH, N_OUT, "fc_output", None))
        # float32 values are what dale computes with: round first, then measure in float64.
        p = {k: v.float().double().requires_grad_(k.endswith(".Wex")) for k, v in p.items()}
        x = torch.rand(BATCH, N_IN, generator=gen, dtype=torch.float64).float().double()
        y = torch.randint(0, N_OUT, (BATCH,), generator=gen)
        expected = measure(variant, p, x, y)
        tensors = {k: v.detach().numpy().astype(np.float32) for k, v in p.items()}
        tensors["x"] = x.numpy().astype(np.float32)
        tensors["y"] = y.numpy().astype(np.float32)
        meta = {"variant": variant, "width": str(WIDTH), "inputs": str(N_IN), "num_layers": str(LAYERS),
                "expected": json.dumps(expected)}
        path = os.path.join(a.out, f"{variant}.safetensors")
        write_safetensors(path, tensors, meta)
        print(f"{path}: " + ", ".join(f"{k} {v}" for k, v in expected.items() if k in ("out_cos", "grad_cos")))


if __name__ == "__main__":
    main()
