#!/usr/bin/python3
"""torch_peer.py — the PyTorch speed peer of dale's benchmark (issue 7).

The same networks as dale (docs/study.md §2–§8: 784 → h → h → 10, h = 500 for ei-ln+, 234 for inorm±)
written the plain way a researcher would write them in PyTorch: an nn.Module holding
nn.Parameters, autograd for the backward (the I-Norm error normalization G of study §4 is a custom
torch.autograd.Function), torch.optim.SGD with one parameter group per study §8 group and a clamp
at 0 of the sign-constrained groups after each step. No hand-written kernels.

The layer formulas, the initialization and the error-normalization Function are imported from
tools/make_fixtures.py (the independent float64 reference used for dale's parity fixtures); its
functions are dtype-agnostic, so here they run in float32 on nn.Parameters.

    python3 bench/torch_peer.py --device cpu|cuda --variants ei-ln+,inorm-,inorm+ --batch 32 \
        --steps N --warmup W --mode eager|compile|graph|all --threads T [--json OUT]
    python3 bench/torch_peer.py --check [--device ...] [--variants ...]   # correctness checks

Per variant and mode it times --steps training steps after --warmup (synchronizing on CUDA before
reading the clock), and one evaluation pass (no_grad, batch --eval-batch) over the jittered test
and training sets, and reports steps/s and the projected epoch time: (n_train // batch) / steps/s
plus the evaluation pass. Modes: eager; compile = torch.compile(model) (reported as
"unavailable: <reason>" where the installed torch cannot); graph (CUDA only) = the whole training
step (forward, backward, SGD, clamp) captured once as a CUDA graph and replayed. The batch
(gather, /255, brightness jitter, study §1) is built eagerly on the device in every mode, and no
mode reads the loss back during the timed steps.

Data: random uint8 images and labels by default (the peer needs the same work as dale, not the
same numbers), or FashionMNIST IDX files (gzip or plain) from --data.dir.
"""

import argparse
import gzip
import json
import math
import os
import platform
import shlex
import struct
import sys
import time
from pathlib import Path

PROG = "torch_peer"
NOT_INSTALLED = f"{PROG}: python3-torch is not installed (apt-get install python3-torch)"
SYSTEM_PYTHON = "/usr/bin/python3"     # Debian's interpreter, the one python3-torch installs into
REEXEC_GUARD = "TORCH_PEER_REEXEC"

DEFAULT_WIDTH = {"ei": 500, "inorm": 234}   # study §6 default widths


class Parser(argparse.ArgumentParser):
    """Bad flags: one line on stderr, exit 2."""

    def error(self, message):
        print(f"{PROG}: error: {message}", file=sys.stderr)
        sys.exit(2)


def parse_args(argv):
    ap = Parser(prog="bench/torch_peer.py", description=__doc__.split("\n\n")[0],
                formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--variants", default="ei-ln+,inorm-,inorm+",
                    help="comma-separated variants (default ei-ln+,inorm-,inorm+)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=200, help="timed training steps (default 200)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed steps first (default 20)")
    ap.add_argument("--mode", choices=("eager", "compile", "graph", "all"), default="all",
                    help="all = eager, compile, and graph on CUDA (default all)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="torch.set_num_threads (default: all cores)")
    ap.add_argument("--json", metavar="OUT", help="also write the rows as JSON to OUT")
    ap.add_argument("--data.dir", dest="data_dir", metavar="DIR",
                    help="FashionMNIST IDX directory (default: random uint8 data)")
    ap.add_argument("--n-train", type=int, default=60000, help="random training images (60000)")
    ap.add_argument("--n-test", type=int, default=10000, help="random test images (10000)")
    ap.add_argument("--eval-batch", type=int, default=1000)
    ap.add_argument("--brightness", type=float, default=0.75,
                    help="brightness jitter strength ε (docs/study.md §1; default 0.75)")
    ap.add_argument("--width", type=int, help="hidden width (default 500 for ei-*, 234 for inorm*)")
    ap.add_argument("--lr", type=float, default=None,
                    help="learning rate of the wex and bias groups (default: make_fixtures.LR, "
                         "0.005); wix/bix and wei/bei keep make_fixtures.LR's rates")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--compile-backend", default="inductor", help="torch.compile backend")
    ap.add_argument("--check", action="store_true",
                    help="run the correctness checks instead of the benchmark: 300 steps per "
                         "variant on learnable random data (loss must fall) and the study §4 "
                         "error-normalization checks; exit 1 if one fails")
    ap.add_argument("--check-steps", type=int, default=300)
    a = ap.parse_args(argv)
    for name in ("batch", "threads", "eval_batch", "n_train", "n_test", "check_steps"):
        if getattr(a, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be ≥ 1")
    for name in ("steps", "warmup"):
        if getattr(a, name) < 0:
            ap.error(f"--{name} must be ≥ 0")
    if a.width is not None and a.width < 2:
        ap.error("--width must be ≥ 2")
    if a.brightness < 0:
        ap.error("--brightness must be ≥ 0")
    a.variants = [v for v in (s.strip() for s in a.variants.split(",")) if v]
    if not a.variants:
        ap.error("--variants is empty")
    if a.data_dir and not os.path.isdir(a.data_dir):
        ap.error(f"--data.dir {a.data_dir}: no such directory")
    return a


def import_torch():
    """Imports torch (and make_fixtures, which needs it). The pyenv python3 on PATH may lack torch
    while Debian's /usr/bin/python3 has it: then run again under that interpreter, once."""
    global torch, F, nn, np, mf
    # libgomp reads OMP_WAIT_POLICY when it loads (with torch). Its default spins idle OpenMP
    # threads; on a machine shared with other jobs a spinning thread that loses its core stalls
    # every parallel region by a scheduler slice (measured here: 2 threads, one core busy with
    # another process → 9 steps/s instead of ~170). PASSIVE unless the caller set it.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import numpy as np          # noqa: F401  (python3-torch depends on python3-numpy)
        import torch
    except ImportError:
        if (os.environ.get(REEXEC_GUARD) != "1" and os.path.exists(SYSTEM_PYTHON)
                and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)):
            os.environ[REEXEC_GUARD] = "1"
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
        print(NOT_INSTALLED, file=sys.stderr)
        sys.exit(2)
    import torch.nn as nn
    import torch.nn.functional as F
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    import make_fixtures as mf
    globals().update(torch=torch, F=F, nn=nn, np=np, mf=mf)


# ---------------------------------------------------------------------------------------------
# The network: nn.Module over make_fixtures' layer functions (study §2–§7), float32
# ---------------------------------------------------------------------------------------------

def build_net_classes():
    """Defined after torch is imported (nn.Module needs it)."""

    class Layer(nn.Module):
        """One E/I layer's parameters (study §12 names); `group` maps each to its study §8 group."""

        def __init__(self, arrays, frozen, device):
            super().__init__()
            self.group = {}
            for k, a in arrays.items():
                t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(device)
                self.register_parameter(k, nn.Parameter(t, requires_grad=k not in frozen))
                self.group[k] = mf.GROUP_OF[k]

    class Net(nn.Module):
        """784 → width → width → 10 (study §6). forward(x, y) → (total loss, task loss, logits):
        task loss = label-smoothed cross-entropy, total = task + the I-Norm layers' local losses
        (study §3); one backward of `total` gives every parameter its own gradient."""

        def __init__(self, variant, width, seed, device):
            super().__init__()
            self.variant = variant
            self.kind, self.norm = mf.VARIANTS[variant]
            # study §7 init with make_fixtures' numpy initializer, same draw order as its
            # --make-init (fc0, fc1, fc_output; Wex then Wei), so the states are identical.
            rng = np.random.default_rng(seed)
            dims = {"fc0": (mf.N_IN, width, mf.n_inhib(width)),
                    "fc1": (width, width, mf.n_inhib(width)),
                    "fc_output": (width, mf.N_OUT, 1)}
            for name in mf.LAYERS:
                n, ne, ni = dims[name]
                inorm = self.kind == "inorm" and name in mf.HIDDEN
                arrays = mf.init_layer(rng, n, ne, ni, inorm)
                frozen = ("Wei", "Bei") if inorm else ()     # I-Norm Wei, Bei are frozen
                setattr(self, name, Layer(arrays, frozen, device))

        def p(self):
            """The flat {"fc0.Wex": Parameter, ...} dict make_fixtures' layer functions take."""
            return {f"{name}.{k}": v for name in mf.LAYERS
                    for k, v in getattr(self, name).named_parameters()}

        def forward(self, x, y, trace=None):
            p = self.p()
            h, local = x, []
            for name in mf.HIDDEN:
                if self.kind == "ei":                               # study §2.2 (+ §5 LN)
                    z = mf.ei_layer(h, p, name)
                    out = mf.layer_norm(z) if self.norm == "ln" else z
                else:                                               # study §2.3, §3, §4
                    out, z, loss = mf.inorm_layer(h, p, name, self.norm)
                    local.append(loss)
                if trace is not None:                               # --check only
                    trace[name] = (z, out)
                h = torch.relu(out)
            logits = mf.ei_layer(h, p, "fc_output")
            task = F.cross_entropy(logits, y, label_smoothing=mf.LABEL_SMOOTHING)
            total = task
            for loss in local:
                total = total + loss
            return total, task, logits

    def make_optimizer(model, lr=None):
        """torch.optim.SGD with one group per study §8 group (rates of make_fixtures.LR, with the
        wex and bias rates replaced by `lr` if given), momentum 0, no weight decay. Returns the
        optimizer and the parameters to clamp at 0 after each step (wex/wix/wei/bei groups)."""
        rates = dict(mf.LR)
        if lr is not None:
            rates["wex"] = rates["bias"] = lr
        by_group, clamped = {}, []
        for name in mf.LAYERS:
            layer = getattr(model, name)
            for k, prm in layer.named_parameters():
                if not prm.requires_grad:
                    continue
                g = layer.group[k]
                by_group.setdefault(g, []).append(prm)
                if g in mf.CLAMPED:
                    clamped.append(prm)
        groups = [{"params": ps, "lr": rates[g], "name": g} for g, ps in by_group.items()]
        return torch.optim.SGD(groups, lr=rates["wex"], momentum=0.0), clamped

    return Net, make_optimizer


def make_train_step(model, opt, clamped, forward=None):
    """The plain training step; `forward` is model or a compiled model."""
    forward = forward or model

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        total, task, _ = forward(x, y)
        total.backward()
        opt.step()
        with torch.no_grad():
            for prm in clamped:                 # Dale's principle: sign-constrained groups ≥ 0
                prm.clamp_(min=0.0)
        return total, task

    return step


# ---------------------------------------------------------------------------------------------
# Data (study §1): uint8 images on the device, converted per batch with brightness jitter
# ---------------------------------------------------------------------------------------------

def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    if magic >> 8 != 0x08 or ndim not in (1, 3):
        raise ValueError(f"{path}: not an IDX uint8 file (magic {magic:#x})")
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    a = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if a.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {a.size} bytes of data for shape {shape}")
    a = a.copy()                 # writable, for torch.as_tensor
    return a.reshape(shape[0], -1) if ndim == 3 else a


def load_fashion_mnist(d):
    def find(stem):
        for name in (stem, stem + ".gz"):
            if os.path.exists(os.path.join(d, name)):
                return os.path.join(d, name)
        raise FileNotFoundError(f"{d}: neither {stem} nor {stem}.gz")
    out = []
    for split in ("train", "t10k"):
        x = read_idx(find(f"{split}-images-idx3-ubyte"))
        y = read_idx(find(f"{split}-labels-idx1-ubyte"))
        if x.shape[1] != 784 or len(x) != len(y):
            raise ValueError(f"{d}: {split} images {x.shape} / labels {y.shape}")
        out += [x, y]
    return out          # x_train, y_train, x_test, y_test (numpy uint8)


class Data:
    """Images stay uint8 on the device; batch(i) is the i-th training batch of a per-epoch
    random permutation (drop-last), converted to p/255 with brightness jitter δ ~ U(−ε, ε) per
    image, clamped to [0, 1]. Nothing here synchronizes with the device."""

    def __init__(self, x_train, y_train, x_test, y_test, batch, eps, device, seed):
        dev = torch.device(device)
        self.xtr = torch.as_tensor(x_train).to(dev)
        self.ytr = torch.as_tensor(y_train).to(dev).long()
        self.xte = torch.as_tensor(x_test).to(dev)
        self.yte = torch.as_tensor(y_test).to(dev).long()
        self.batch, self.eps, self.dev = batch, eps, dev
        self.steps_per_epoch = len(self.xtr) // batch
        if self.steps_per_epoch < 1:
            raise ValueError(f"batch {batch} > {len(self.xtr)} training images")
        self.gen = torch.Generator(device=dev)
        self.seed = seed
        self.reset()

    def reset(self):
        """Back to the first batch of the first epoch, same permutation and jitter draws."""
        self.gen.manual_seed(self.seed)
        self.epoch, self.perm = -1, None

    def convert(self, u8):
        x = u8.float().div_(255.0)
        if self.eps > 0:
            delta = torch.rand(x.shape[0], 1, device=self.dev, generator=self.gen)
            x.add_(delta.mul_(2.0 * self.eps).sub_(self.eps)).clamp_(0.0, 1.0)
        return x

    def batch_at(self, i):
        epoch, k = divmod(i, self.steps_per_epoch)
        if epoch != self.epoch:
            self.perm = torch.randperm(len(self.xtr), device=self.dev, generator=self.gen)
            self.epoch = epoch
        idx = self.perm[k * self.batch:(k + 1) * self.batch]
        return self.convert(self.xtr.index_select(0, idx)), self.ytr.index_select(0, idx)

    def eval_batches(self, eval_batch):
        """The jittered test set, then the jittered training set, in order."""
        for xs, ys in ((self.xte, self.yte), (self.xtr, self.ytr)):
            for s in range(0, len(xs), eval_batch):
                yield self.convert(xs[s:s + eval_batch]), ys[s:s + eval_batch]


def make_data(args, device, learnable=False):
    if args.data_dir:
        xtr, ytr, xte, yte = load_fashion_mnist(args.data_dir)
        source = f"FashionMNIST IDX from {args.data_dir}"
    else:
        rng = np.random.default_rng(args.seed + 1000)
        xtr = rng.integers(0, 256, size=(args.n_train, 784), dtype=np.uint8)
        xte = rng.integers(0, 256, size=(args.n_test, 784), dtype=np.uint8)
        if learnable:
            # --check: each class is a random prototype image plus pixel noise, so there is
            # something to learn in a few hundred steps
            ytr = rng.integers(0, 10, size=args.n_train, dtype=np.uint8)
            yte = rng.integers(0, 10, size=args.n_test, dtype=np.uint8)
            proto = rng.integers(0, 256, size=(10, 784)).astype(np.float32)

            def draw(y):
                x = proto[y] + rng.normal(0.0, 64.0, size=(len(y), 784)).astype(np.float32)
                return np.clip(np.rint(x), 0, 255).astype(np.uint8)
            xtr, xte = draw(ytr), draw(yte)
            source = "random uint8 images: 10 random class prototypes + N(0, 64²) pixel noise"
        else:
            ytr = rng.integers(0, 10, size=args.n_train, dtype=np.uint8)
            yte = rng.integers(0, 10, size=args.n_test, dtype=np.uint8)
            source = f"random uint8 ({args.n_train} train, {args.n_test} test)"
    return Data(xtr, ytr, xte, yte, args.batch, args.brightness, device, args.seed), source


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------

def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


class Unavailable(Exception):
    """A mode this torch or device cannot run; the message is the reason."""


def first_line(e):
    s = (str(e) if isinstance(e, Unavailable) else f"{type(e).__name__}: {e}").strip().splitlines()
    return (s[0] if s else type(e).__name__)[:200]


def compile_unavailable_reason():
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile (needs PyTorch ≥ 2.0)"
    return None


def build_step(mode, model, opt, clamped, data, args):
    """Returns (step(i) → (total, task) tensors, eval forward, note). Raises on failure; the
    caller turns that into "unavailable: <reason>"."""
    if mode == "eager":
        fstep = make_train_step(model, opt, clamped)
        return (lambda i: fstep(*data.batch_at(i))), model, "model eager, SGD eager"

    if mode == "compile":
        reason = compile_unavailable_reason()
        if reason:
            raise Unavailable(reason)
        cmodel = torch.compile(model, backend=args.compile_backend)
        fstep = make_train_step(model, opt, clamped, forward=cmodel)
        return (lambda i: fstep(*data.batch_at(i))), cmodel, \
            f"torch.compile(model, backend={args.compile_backend}), SGD eager"

    if mode == "graph":
        if args.device != "cuda":
            raise Unavailable("CUDA graphs need --device cuda")
        # Whole-network capture (torch.cuda.graphs): static input buffers, a few warm-up steps
        # on a side stream, then forward + backward + SGD step + clamp captured once.
        fstep = make_train_step(model, opt, clamped)
        sx, sy = data.batch_at(0)
        sx, sy = sx.clone(), sy.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                fstep(sx, sy)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            out = fstep(sx, sy)

        def gstep(i):
            x, y = data.batch_at(i)
            sx.copy_(x)
            sy.copy_(y)
            graph.replay()
            return out
        return gstep, model, "whole step captured as one CUDA graph; batch built eagerly; eval eager"

    raise ValueError(mode)


def evaluate(fwd, data, args):
    """One pass over the jittered test + training sets under no_grad. Returns (seconds, mean
    loss, accuracy); reads the device once, at the end."""
    sync(args.device)
    t0 = time.perf_counter()
    loss_sum = torch.zeros((), device=args.device)
    correct = torch.zeros((), device=args.device, dtype=torch.long)
    n = 0
    with torch.no_grad():
        for x, y in data.eval_batches(args.eval_batch):
            _, task, logits = fwd(x, y)
            loss_sum += task * len(y)
            correct += (logits.argmax(1) == y).sum()
            n += len(y)
    sync(args.device)
    dt = time.perf_counter() - t0
    return dt, loss_sum.item() / n, correct.item() / n


def bench_one(Net, make_optimizer, variant, mode, data, args):
    kind, _ = mf.VARIANTS[variant]
    width = args.width or DEFAULT_WIDTH[kind]
    row = {"variant": variant, "width": width, "mode": mode, "device": args.device,
           "threads": torch.get_num_threads(), "batch": args.batch, "status": "ok"}
    torch.manual_seed(args.seed)
    model = Net(variant, width, args.seed, args.device)
    opt, clamped = make_optimizer(model, args.lr)
    data.reset()                                          # same batches for every row
    try:
        step, eval_fwd, note = build_step(mode, model, opt, clamped, data, args)
        row["note"] = note
        i = 0
        # the first call of a compiled step is where a missing compiler backend shows up
        for _ in range(max(1, args.warmup)):
            step(i)
            i += 1
        sync(args.device)
        # warm the evaluation path too (a compiled model compiles again for batch 1000)
        with torch.no_grad():
            x, y = next(data.eval_batches(args.eval_batch))
            eval_fwd(x, y)
        sync(args.device)
    except Exception as e:                                # noqa: BLE001 — reported, not raised
        row["status"] = f"unavailable: {first_line(e)}"
        return row
    out = None
    t0 = time.perf_counter()
    for _ in range(args.steps):
        out = step(i)
        i += 1
    sync(args.device)
    dt = time.perf_counter() - t0
    if args.steps > 0:
        row["train_loss_last"] = float(out[1].item())
        row["steps_per_s"] = args.steps / dt
        row["ms_per_step"] = 1e3 * dt / args.steps
        row["steps_per_epoch"] = data.steps_per_epoch
        row["train_s_per_epoch"] = data.steps_per_epoch / row["steps_per_s"]
    eval_s, eval_loss, eval_acc = evaluate(eval_fwd, data, args)
    row["eval_images"] = len(data.xte) + len(data.xtr)
    row["eval_s"] = eval_s
    row["eval_loss"] = eval_loss
    if args.steps > 0:
        row["s_per_epoch_with_eval"] = row["train_s_per_epoch"] + eval_s
    if args.steps > 0 and not math.isfinite(row["train_loss_last"]):
        row["note"] += "; loss not finite"
    return row


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def print_table(rows):
    print("| variant | width | mode | device | threads | steps/s | ms/step | s/epoch (train) "
          "| eval s | s/epoch with eval |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        head = f"| {r['variant']} | {r['width']} | {r['mode']} | {r['device']} | {r['threads']} |"
        if r["status"] != "ok":
            print(f"{head} {r['status']} | | | | |")
            continue
        print(f"{head} {fmt(r.get('steps_per_s'), '.1f')} | {fmt(r.get('ms_per_step'), '.3f')} | "
              f"{fmt(r.get('train_s_per_epoch'), '.2f')} | {fmt(r.get('eval_s'), '.2f')} | "
              f"{fmt(r.get('s_per_epoch_with_eval'), '.2f')} |")


def device_name(device):
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name} ({os.cpu_count()} cores)"


def run_bench(args, Net, make_optimizer):
    data, source = make_data(args, args.device)
    modes = ["eager", "compile"] + (["graph"] if args.device == "cuda" else []) \
        if args.mode == "all" else [args.mode]
    rows, load = [], os.getloadavg()
    for variant in args.variants:
        for mode in modes:
            rows.append(bench_one(Net, make_optimizer, variant, mode, data, args))
    print(f"# torch_peer: torch {torch.__version__}, {args.device} = {device_name(args.device)}, "
          f"{torch.get_num_threads()} threads (OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}"
          f", load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}), batch "
          f"{args.batch}, {args.steps} timed steps after {args.warmup} warm-up, data: {source}")
    print(f"# s/epoch = {data.steps_per_epoch} steps / (steps/s) + one no_grad evaluation pass "
          f"over {len(data.xte)} + {len(data.xtr)} images at batch {args.eval_batch}")
    print()
    print_table(rows)
    if args.json:
        doc = {"tool": "bench/torch_peer.py", "torch": torch.__version__,
               "python": platform.python_version(), "device": args.device,
               "device_name": device_name(args.device), "threads": torch.get_num_threads(),
               "env": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS",
                                                      "OPENBLAS_NUM_THREADS")},
               "loadavg_1min_before": load[0], "loadavg_1min_after": os.getloadavg()[0],
               "batch": args.batch, "steps": args.steps, "warmup": args.warmup,
               "eval_batch": args.eval_batch, "brightness": args.brightness, "data": source,
               "steps_per_epoch": data.steps_per_epoch,
               "command": " ".join(shlex.quote(a) for a in [sys.argv[0]] + sys.argv[1:]),
               "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "rows": rows}
        d = os.path.dirname(os.path.abspath(args.json))
        os.makedirs(d, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        print(f"\nwrote {args.json}")
    return 0


# ---------------------------------------------------------------------------------------------
# --check: does the peer compute the study's networks?
# ---------------------------------------------------------------------------------------------

def spec_g_backward(mode, g, z):
    """study §4 table, written out again here (independently of make_fixtures.ErrorNorm)."""
    d = z.shape[1]
    mu = z.mean(1, keepdim=True)
    sigma = torch.sqrt(((z - mu) ** 2).mean(1, keepdim=True) + 1e-5)
    gz = (g * z).sum(1, keepdim=True)
    return {"none": g,
            "full": (g - g.mean(1, keepdim=True) - z * gz / d) / sigma,
            "center": g - g.mean(1, keepdim=True),
            "scale": g / sigma,
            "decorrelate": g - z * gz / d}[mode]


def rel(a, b):
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def run_check(args, Net, make_optimizer):
    ok = True

    def verdict(cond, msg):
        nonlocal ok
        ok &= bool(cond)
        print(f"  [{'ok' if cond else 'FAIL'}] {msg}")

    dev = args.device
    print(f"# torch_peer --check: torch {torch.__version__}, {dev}, "
          f"{torch.get_num_threads()} threads")

    # 1. G of study §4 on random z, g (float64): the Function's backward equals the formula
    print("G unit check (make_fixtures.ErrorNorm backward vs study §4, float64, 32 × 234):")
    gen = torch.Generator().manual_seed(7)
    z0 = (torch.randn(32, 234, generator=gen, dtype=torch.float64) * 2 + 0.5).to(dev)
    g0 = torch.randn(32, 234, generator=gen, dtype=torch.float64).to(dev)
    for mode in ("none", "full", "center", "scale", "decorrelate"):
        z = z0.clone().requires_grad_(True)
        out = mf.ErrorNorm.apply(z, mode)
        out.backward(g0)
        e = rel(z.grad, spec_g_backward(mode, g0, z0))
        verdict(e < 1e-12 and torch.equal(out.detach(), z0),
                f"{mode:12s} forward identity, backward rel err {e:.2e}")

    # 2. in the network: the error arriving at z of each hidden I-Norm layer is G(error at out)
    print("in-network G check (one step, float32: error at z vs study §4 applied to error at G(z)):")
    data, source = make_data(args, dev, learnable=True)
    x, y = data.batch_at(0)
    for variant in ("inorm+", "inorm-"):
        model = Net(variant, DEFAULT_WIDTH["inorm"], args.seed, dev)
        trace = {}
        total, _, _ = model(x, y, trace)
        for z, out in trace.values():
            z.retain_grad()
            out.retain_grad()
        total.backward()
        mode = mf.VARIANTS[variant][1]
        for layer, (z, out) in trace.items():
            e = rel(z.grad.double(), spec_g_backward(mode, out.grad.double(), z.detach().double()))
            moved = rel(z.grad, out.grad)
            expect = "≫ 0" if mode != "none" else "= 0"
            cond = e < 1e-4 and ((moved > 1e-2) if mode != "none" else moved == 0)
            verdict(cond, f"{variant} {layer}: G={mode}, rel err to formula {e:.2e}; "
                          f"|dz − dout|/|dout| = {moved:.3f} (expect {expect})")

    # 3. training: the loss falls
    print(f"training check: {args.check_steps} steps per variant at batch {args.batch}, "
          f"lr(wex, bias) = {args.lr if args.lr is not None else mf.LR['wex']}, other groups "
          f"make_fixtures.LR, ε = {args.brightness}; data: {source}")
    k = max(1, min(20, args.check_steps // 5))
    for variant in args.variants:
        kind, _ = mf.VARIANTS[variant]
        width = args.width or DEFAULT_WIDTH[kind]
        torch.manual_seed(args.seed)
        model = Net(variant, width, args.seed, dev)
        opt, clamped = make_optimizer(model, args.lr)
        step = make_train_step(model, opt, clamped)
        data.reset()
        losses = []
        for i in range(args.check_steps):
            _, task = step(*data.batch_at(i))
            losses.append(task.detach())
        losses = torch.stack(losses).cpu()
        first, last = losses[:k].mean().item(), losses[-k:].mean().item()
        neg = min(float(p.detach().min()) for p in clamped)
        _, eval_loss, eval_acc = evaluate(model, data, args)
        verdict(math.isfinite(last) and last < first - 0.05 and neg >= 0,
                f"{variant} (width {width}): task loss, mean of first {k} steps {first:.4f} → "
                f"last {k} {last:.4f}; eval loss {eval_loss:.4f}, acc {100 * eval_acc:.1f}%; "
                f"min sign-constrained weight {neg:.2e}")
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


def main(argv):
    args = parse_args(argv)
    import_torch()
    known = sorted(mf.VARIANTS)
    for v in args.variants:
        if v not in known:
            print(f"{PROG}: error: unknown variant {v!r} (known: {', '.join(known)})",
                  file=sys.stderr)
            return 2
    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"{PROG}: error: --device cuda, but torch {torch.__version__} sees no CUDA device",
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    Net, make_optimizer = build_net_classes()
    if args.check:
        return run_check(args, Net, make_optimizer)
    return run_bench(args, Net, make_optimizer)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
