#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/: small valid and near-valid inputs.

Standard library only. The files are committed; rerun this after changing it (it replaces the
seeds it names and leaves any other file, e.g. ones added by `tools/fuzz --update-corpus`).
Usage: tests/fuzz/make_corpus.py
"""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, mtime=0)


# ---------------------------------------------------------------------------------------------
# IDX: magic 0x00000803 + n, rows, cols + pixels; magic 0x00000801 + n + labels (big-endian).
def idx_images(n, rows, cols, body=None):
    body = bytes(range(n * rows * cols)) if body is None else body
    return struct.pack(">IIII", 0x803, n, rows, cols) + body


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


images = idx_images(2, 3, 4)
labels = idx_labels([0, 1, 2, 9, 3])
put("idx", "images-2x3x4", images)
put("idx", "images-2x3x4.gz", gz(images))
put("idx", "labels-5", labels)
put("idx", "labels-5.gz", gz(labels))
put("idx", "labels-5-two-members.gz", gz(labels[:6]) + gz(labels[6:]))
put("idx", "images-truncated", images[:-3])
put("idx", "labels-trailing-byte", labels + b"\x00")
put("idx", "labels-trailing-garbage.gz", gz(labels) + b"\x00\x01")
put("idx", "images-zero-count", idx_images(0, 28, 28, b""))
put("idx", "images-huge-count.gz", gz(struct.pack(">IIII", 0x803, 100000, 28, 28)))

# ---------------------------------------------------------------------------------------------
# safetensors: u64 header length (little-endian), JSON header, data buffer.
def safetensors(header, buffer, pad=True):
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + buffer


f32 = struct.pack("<6f", 1.0, -2.5, 0.0, 3.25, -0.0, 1e-30)
put("safetensors", "f32-two-tensors", safetensors({
    "__metadata__": {"format": "pt", "variant": "ei"},
    "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
    "b": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]},
}, f32))
put("safetensors", "int-labels", safetensors({
    "y32": {"dtype": "I32", "shape": [3], "data_offsets": [0, 12]},
    "y64": {"dtype": "I64", "shape": [2], "data_offsets": [12, 28]},
}, struct.pack("<3i2q", 0, 7, -3, 9, 1 << 24)))
put("safetensors", "scalar-and-empty", safetensors({
    "s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]},
    "e": {"dtype": "F32", "shape": [0, 5], "data_offsets": [4, 4]},
}, struct.pack("<f", 42.0)))
put("safetensors", "overlap", safetensors({
    "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
    "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},
}, f32[:8]))
put("safetensors", "bad-dtype", safetensors({
    "h": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},
}, b"\x00" * 4))
put("safetensors", "truncated", safetensors({
    "w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
}, f32[:12]))
put("safetensors", "empty-header", safetensors({}, b"", pad=False))

# ---------------------------------------------------------------------------------------------
# Config files for `dale train`: TOML, read by toml++ (tools/dale/config_file.cpp).
put("config", "sections.toml", b"""# a run
[train]
epochs = 3          # comment
batch_size = 32
[model]
variant = "inorm+"  # another comment
device = 'cpu'
[opt]
lr = 0.005
inhib_lrs.wix = 1e-3
""")
put("config", "flat.ini", b'train.epochs = 1\nmodel.variant = "ei-ln+"\nquiet = true\ndata.dir = "/a b#c"\r\n')
# A byte order mark and the four kinds of string: multi-line basic (with a line-ending
# backslash), multi-line literal, literal, basic with escapes.
put("config", "strings.toml",
    b'\xef\xbb\xbf[model]\nvariant = """\nei-\\\n  ln+"""\n'
    b"[data]\ndir = '''\nC:\\data \"x\"'''\n"
    b"[exp]\nrun = 'r#1'\n"
    b'[opt]\nalgorithm = "a\\tb\\u00e9 \\"#\\""\n')
put("config", "inline.toml",
    b"opt = { lr = 0.0046948634644269184, inhib_lrs = { wix = 1_0.5e-0_3 } }\n"
    b"model = { variant = 'ei', device = \"cuda\" }\n[data]\nbrightness_factor = +inf\n")
put("config", "numbers.toml",
    b"[train]\nepochs = 0x1F\nbatch_size = 1_000\n[opt]\nlr = nan\n[data]\nbrightness_factor = -0.0\n")
put("config", "bad-key.toml", b"[train]\nepoch = 3\n")
put("config", "bad-section.toml", b"[train\nepochs = 3\n")
put("config", "no-value.toml", b'[opt]\nlr =\nlr = ""\n')
put("config", "duplicates.toml", b"[opt]\nlr = 1\nlr = 2\n[opt]\ndevice = 'cpu'\n[model]\ndevice = 'cpu'\n")
put("config", "pair-and-list.toml", b"variants = [\"ei\", 'inorm+',]\n[sweep]\nlr_range = [1e-3, 1e-2]\n")
put("config", "bad-values.toml", b"[exp]\nrun = 1979-05-27T07:32:00Z\n[train]\nepochs = [1, [2]]\n[[opt]]\n")
put("config", "option-like-values.toml", b'[data]\ndir = "--x"\n[model]\nvariant = -1\n')
# What the fuzzer found: toml++ 3.3's assertion on a bad header (marzer/tomlplusplus#301), a list
# CLI11 would read as "[…]" with no items, and a key naming CLI11's --help.
put("config", "found-header-assert.toml", b"[`pochs= 3\n")
put("config", "found-bracket-list.toml", b'variants ="[, ]"\n\n')
put("config", "found-help.toml", b"help=0 ")
