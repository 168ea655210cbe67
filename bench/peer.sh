#!/usr/bin/env bash
# dale against its PyTorch peer, side by side in one run: `dale bench` (one process, every
# variant) and bench/torch_peer.py (one process: eager, and torch.compile / CUDA graphs where the
# installed PyTorch has them), the same variants, batch, steps, data and thread count. Prints and
# writes bench/results/peer-<device>-<date>.md (+ .json): steps/s, s/epoch with evaluation, and
# the ratio dale / peer. Run on an otherwise idle machine.
# Usage: bench/peer.sh [cpu|cuda]   Environment: STEPS (default 500), WARMUP (50), VARIANTS,
# MODELS (dale's ensemble sizes: default 1 on the CPU, 1,8,32,128 on CUDA, where dale also times
# its CUDA-graph step beside the eager one), PYTHON (default /usr/bin/python3), DALE_BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
device=${1:-cpu}
case "$device" in cpu|cuda) ;; *) echo "bench/peer.sh: expected cpu or cuda, got '$device'" >&2; exit 2 ;; esac
steps=${STEPS:-500}
warmup=${WARMUP:-50}
variants=${VARIANTS:-ei-ln+,inorm-,inorm+}
if [ "$device" = cuda ]; then models=${MODELS:-1,8,32,128}; else models=${MODELS:-1}; fi
data=${DATA:-/usr/share/datasets/fashion-mnist}
threads=$(nproc)
python=${PYTHON:-/usr/bin/python3}
build=${DALE_BUILD_DIR:-build}
# PyTorch from Debian unless the Python at hand already has it (a GPU machine's own PyTorch).
"$python" -c 'import torch' 2>/dev/null || tools/setup python3-torch
DALE_BUILD_DIR=$build tools/build >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "bench/peer.sh: dale bench ($device, $steps steps per variant)" >&2
OPENBLAS_NUM_THREADS=$threads $build/dale bench --device "$device" --variants "$variants" --steps "$steps" \
    --warmup "$warmup" --models "$models" --data.dir "$data" --json "$tmp/dale.json" >&2
echo "bench/peer.sh: bench/torch_peer.py ($device, $steps steps per variant and mode)" >&2
"$python" bench/torch_peer.py --device "$device" --variants "$variants" --steps "$steps" --warmup "$warmup" \
    --mode all --threads "$threads" --data.dir "$data" --json "$tmp/peer.json" >&2

out=bench/results/peer-$device-$(date +%Y-%m-%d)
"$python" - "$tmp/dale.json" "$tmp/peer.json" "$out" "$device" "$steps" "$threads" <<'PY'
import json, subprocess, sys, datetime, platform
dale_rows = json.load(open(sys.argv[1]))
peer = json.load(open(sys.argv[2]))
out, device, steps, threads = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
peer_rows = peer["rows"] if isinstance(peer, dict) and "rows" in peer else peer
def cpu_name():
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            return l.split(":", 1)[1].strip()
    return platform.processor()
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
lines = [f"# dale vs PyTorch peer, {device} ({datetime.datetime.utcnow():%Y-%m-%dT%H:%MZ})", "",
         f"- machine: {threads} cores, {cpu_name()}; commit {commit}",
         f"- torch: {peer.get('torch', '?') if isinstance(peer, dict) else '?'}",
         f"- command: `bench/peer.sh {device}` ({steps} timed steps per variant after warm-up, batch 32, "
         f"FashionMNIST, ε = 0.75; both sides {threads} threads)", "",
         "| variant | side | mode | model-steps/s | s/epoch with eval | dale ÷ this (model-steps/s) |",
         "| --- | --- | --- | --- | --- | --- |"]
for d in dale_rows:
    v = d["variant"]
    rate = d.get("model_steps_per_s", d["steps_per_s"])  # an ensemble row: K models per step
    lines.append(f"| {v} | dale | {d['mode']} | {rate:.1f} | {d['epoch_s']:.2f} | 1.00 |")
    for p in peer_rows:
        if p.get("variant") != v:
            continue
        sps = p.get("steps_per_s")
        if not isinstance(sps, (int, float)) or not sps:
            lines.append(f"| {v} | torch | {p.get('mode')} | {p.get('status', p.get('note', 'unavailable'))} | | |")
            continue
        lines.append(f"| {v} | torch | {p.get('mode')} | {sps:.1f} | {p.get('s_per_epoch_with_eval', float('nan')):.2f} "
                     f"| {rate / sps:.2f} |")
text = "\n".join(lines) + "\n"
open(out + ".md", "w").write(text)
json.dump({"dale": dale_rows, "peer": peer}, open(out + ".json", "w"), indent=2)
print(text)
PY
echo "bench/peer.sh: wrote $out.md and $out.json" >&2
