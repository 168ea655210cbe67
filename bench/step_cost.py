#!/usr/bin/env python3
"""The two numbers first: FLOPs and bytes of one training step of each headline network, and
the floors they imply on an H100 and on the CPU (issue 7, bench/README.md).

Reads the parameter shapes from dale's own checkpoints (dale train --exp.max_steps 0 writes the
initial weights), so the count follows the code. Every weight matrix W (a × b, b > 1) is one GEMM
per pass: forward 2·B·a·b FLOPs; backward the same for dW (not for frozen ones) and, except where
the input is the image batch (nothing upstream needs it), again for dX. I-Norm's Bei = 1/ne is a
row mean, not a GEMM. Bytes: a lower bound of the parameter
traffic — W read in forward and in backward, its gradient written and read back, and the update
reading p and g and writing p: 6 × 4 bytes per parameter (momentum adds 8). Activations at
B = 32 are small next to that and left out. Floors: FLOPs / peak FLOP/s and bytes / bandwidth;
the larger is the step's lower bound on that machine.
Usage: bench/step_cost.py [--batch 32] [--dale build/dale]
"""
import argparse
import json
import os
import struct
import subprocess
import tempfile

# Peak rates (FP32, no tensor cores: dale's GEMMs are plain SGEMM, TF32 off).
H100 = {"name": "H100 SXM", "flops": 67e12, "bytes": 3.35e12}
# 2 cores × 2 FMA units × 8 floats (AVX2) × 2 FLOPs × 2.5 GHz, and one memory channel's share.
CPU2 = {"name": "2-core AVX2 @2.5 GHz", "flops": 2 * 2 * 8 * 2 * 2.5e9, "bytes": 20e9}


def shapes(dale, variant):
    with tempfile.TemporaryDirectory() as d:
        ckpt = os.path.join(d, "init.safetensors")
        subprocess.run([dale, "train", "--model.variant", variant, "--exp.max_steps", "0",
                        "--exp.ckpt", ckpt, "--quiet"], check=True, stdout=subprocess.DEVNULL)
        raw = open(ckpt, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    return {k: v["shape"] for k, v in header.items() if k != "__metadata__"}


def cost(variant, shp, batch, image_dim=784):
    """dale's own work: I-Norm's frozen Bei (1/ne) pools by a row mean, no GEMM; its frozen Wei
    gets no dW. Everything else: forward, dW, and dX unless the input is the image."""
    inorm = variant.startswith("inorm") and not variant.startswith("inorm-sub")
    flops = params = traffic = 0
    for name, s in shp.items():
        params += s[0] * s[1]
        if inorm and name.endswith(".Bei"):  # the row-mean pooling: never read
            continue
        traffic += s[0] * s[1]
        if s[1] == 1:  # a bias column: an addition, no GEMM
            continue
        passes = 3
        if name.startswith("fc0.") and s[1] == image_dim:
            passes -= 1  # no dX into the image
        if inorm and name.endswith(".Wei"):
            passes -= 1  # frozen: no dW
        flops += 2 * batch * s[0] * s[1] * passes
    return flops, params, traffic * 6 * 4


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--dale", default="build/dale")
    a = ap.parse_args()
    print(f"| network | parameters | MFLOP/step | MB/step | {H100['name']} floor (µs) | {CPU2['name']} floor (µs) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for v in ("ei-ln+", "inorm-", "inorm+"):
        f, p, b = cost(v, shapes(a.dale, v), a.batch)
        floor = lambda m: 1e6 * max(f / m["flops"], b / m["bytes"])
        print(f"| {v} | {p:,} | {f / 1e6:.1f} | {b / 1e6:.2f} | {floor(H100):.2f} | {floor(CPU2):.0f} |")


if __name__ == "__main__":
    main()
