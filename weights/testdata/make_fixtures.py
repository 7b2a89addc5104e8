#!/usr/bin/env python3
"""Writes deterministic SYNTHETIC VGG16/VGG19 weight files in the real Keras layouts.

These are NOT ImageNet weights: every value comes from numpy's PCG64 generator
seeded per (model, layer, weight). They exist so that the Go reader can be
checked against h5py on files whose structure is byte-for-byte what Keras
writes, without downloading anything.

Usage:
    make_fixtures.py OUTDIR NAME...      write the named fixtures
    make_fixtures.py --digests FILE      print {dataset path: {shape, sha256}} as JSON
    make_fixtures.py --list              list the fixture names

Layouts (the LAYOUT part of a name):
    tf2016   the published *_tf_dim_ordering_tf_kernels*.h5 files (Keras 1, 2016):
             fixed-length string attributes, datasets <layer>/<layer>_W_1:0,
             empty weight_names on layers without weights.
    th2016   the same with channels_first / Theano kernels
             (*_th_dim_ordering_th_kernels*.h5): OIHW kernels, spatially flipped,
             and fc1 rows in (C,H,W) flatten order.
    keras2   Keras 2 save_weights: nested groups <layer>/<layer>/kernel:0,
             variable-length string attributes (keras_version, backend),
             chunked datasets with shuffle+gzip.
    keras2full  Keras 2 model.save: the above under /model_weights plus model_config.
    keras3   Keras 3 .weights.h5: layers/<class>_N/vars/<i>.
"""
import hashlib
import json
import os
import sys

import h5py
import numpy as np

VGG = {
    "vgg16": [2, 2, 3, 3, 3],
    "vgg19": [2, 2, 4, 4, 4],
}
FILTERS = [64, 128, 256, 512, 512]


def layers(model, top):
    """Yields (name, class, [(weight suffix, shape)]) in Keras order, channels_last."""
    yield "input_1", "InputLayer", []
    cin = 3
    for b, n in enumerate(VGG[model], start=1):
        for c in range(1, n + 1):
            cout = FILTERS[b - 1]
            yield f"block{b}_conv{c}", "Conv2D", [("kernel", (3, 3, cin, cout)), ("bias", (cout,))]
            cin = cout
        yield f"block{b}_pool", "MaxPooling2D", []
    if top:
        yield "flatten", "Flatten", []
        yield "fc1", "Dense", [("kernel", (7 * 7 * 512, 4096)), ("bias", (4096,))]
        yield "fc2", "Dense", [("kernel", (4096, 4096)), ("bias", (4096,))]
        yield "predictions", "Dense", [("kernel", (4096, 1000)), ("bias", (1000,))]


def values(model, layer, weight, shape):
    """Deterministic He-scaled synthetic values for one weight."""
    seed = int.from_bytes(hashlib.sha256(f"{model}/{layer}/{weight}".encode()).digest()[:8], "little")
    rng = np.random.Generator(np.random.PCG64(seed))
    if weight == "bias":
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(0.01)).astype(np.float32)
    fan_in = int(np.prod(shape[:-1]))
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))).astype(np.float32)


def to_theano(name, cls, weight, arr):
    """channels_last/TF value -> channels_first/Theano value, as in the th files."""
    if cls == "Conv2D" and weight == "kernel":
        # HWIO -> flip H,W (Theano convolves) -> OIHW
        return np.ascontiguousarray(np.transpose(arr[::-1, ::-1, :, :], (3, 2, 0, 1)))
    if name == "fc1" and weight == "kernel":
        h, w, c = 7, 7, 512
        rows = arr.reshape(h, w, c, arr.shape[1])
        return np.ascontiguousarray(np.transpose(rows, (2, 0, 1, 3)).reshape(h * w * c, arr.shape[1]))
    return arr


def fixed(strings):
    """A numpy array of fixed-length byte strings, as Keras 1/2 stored names."""
    return np.array([s.encode("utf8") for s in strings])


def write_2016(path, model, top, theano):
    with h5py.File(path, "w") as f:
        names = []
        for name, cls, ws in layers(model, top):
            names.append(name)
            g = f.create_group(name)
            wnames = []
            for i, (w, shape) in enumerate(ws):
                arr = values(model, name, w, shape)
                if theano:
                    arr = to_theano(name, cls, w, arr)
                dname = f"{name}_{'W' if w == 'kernel' else 'b'}_1:0"
                g.create_dataset(dname, data=arr)
                wnames.append(dname)
            # Keras 1 stored [] as an empty float64 array on weightless layers.
            g.attrs["weight_names"] = fixed(wnames) if wnames else np.array([])
        f.attrs["layer_names"] = fixed(names)


def write_keras2_group(root, model, top, compress):
    names = []
    for name, cls, ws in layers(model, top):
        names.append(name)
        g = root.create_group(name)
        wnames = []
        for w, shape in ws:
            arr = values(model, name, w, shape)
            wname = f"{name}/{w}:0"
            if compress:
                g.create_dataset(wname, data=arr, chunks=True, shuffle=True, compression="gzip", compression_opts=4)
            else:
                g.create_dataset(wname, data=arr)
            wnames.append(wname)
        g.attrs["weight_names"] = fixed(wnames) if wnames else np.array([], dtype="S1")
    root.attrs["layer_names"] = fixed(names)
    root.attrs["backend"] = "tensorflow"
    root.attrs["keras_version"] = "2.15.0"


def write_keras2(path, model, top):
    with h5py.File(path, "w") as f:
        write_keras2_group(f, model, top, compress=True)


def write_keras2_full(path, model, top):
    with h5py.File(path, "w") as f:
        cfg = {"class_name": "Functional", "config": {"name": model, "layers": [
            {"class_name": cls, "name": name} for name, cls, _ in layers(model, top)]}}
        f.attrs["model_config"] = json.dumps(cfg)
        f.attrs["backend"] = "tensorflow"
        f.attrs["keras_version"] = "2.15.0"
        write_keras2_group(f.create_group("model_weights"), model, top, compress=False)


def snake(cls):
    return {"InputLayer": "input_layer", "Conv2D": "conv2d", "MaxPooling2D": "max_pooling2d",
            "Flatten": "flatten", "Dense": "dense"}[cls]


def write_keras3(path, model, top):
    with h5py.File(path, "w") as f:
        f.create_group("vars")
        seen = {}
        for name, cls, ws in layers(model, top):
            base = snake(cls)
            n = seen.get(base, 0)
            seen[base] = n + 1
            key = base if n == 0 else f"{base}_{n}"
            v = f.create_group(f"layers/{key}/vars")
            for i, (w, shape) in enumerate(ws):
                v.create_dataset(str(i), data=values(model, name, w, shape))
        f.create_group("optimizer/vars")


def fixtures():
    out = {}
    for model in VGG:
        for top in (False, True):
            suffix = "" if top else "_notop"
            out[f"{model}_tf2016{suffix}.h5"] = lambda p, m=model, t=top: write_2016(p, m, t, False)
            out[f"{model}_th2016{suffix}.h5"] = lambda p, m=model, t=top: write_2016(p, m, t, True)
            out[f"{model}_keras2{suffix}.h5"] = lambda p, m=model, t=top: write_keras2(p, m, t)
            out[f"{model}_keras2full{suffix}.h5"] = lambda p, m=model, t=top: write_keras2_full(p, m, t)
            out[f"{model}_keras3{suffix}.weights.h5"] = lambda p, m=model, t=top: write_keras3(p, m, t)
    return out


def digests(path):
    res = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                a = np.ascontiguousarray(obj[()].astype("<f4"))
                res[name] = {"shape": list(a.shape), "sha256": hashlib.sha256(a.tobytes()).hexdigest()}
        f.visititems(visit)
    json.dump(res, sys.stdout, sort_keys=True)


def main(argv):
    if argv[:1] == ["--digests"]:
        digests(argv[1])
        return
    if argv[:1] == ["--list"]:
        print("\n".join(sorted(fixtures())))
        return
    if len(argv) < 2:
        sys.exit(__doc__)
    out, names = argv[0], argv[1:]
    all_fx = fixtures()
    for n in names:
        if n not in all_fx:
            sys.exit(f"unknown fixture {n!r}; --list shows them")
        tmp = f"{out}/{n}.tmp"
        all_fx[n](tmp)
        os.replace(tmp, f"{out}/{n}")


if __name__ == "__main__":
    main(sys.argv[1:])
