#!/usr/bin/python3
"""Independent reference for gomlx_vgg: Keras' VGG16/VGG19 written in PyTorch.

Reads a Keras weight file with h5py the way Keras 2's load_weights does
(layer_names / weight_names attributes, at the root or under /model_weights),
loads an image the way keras.utils.load_img does (PIL, convert("RGB"),
Image.resize with the named filter), applies preprocess_input in caffe mode in
numpy, runs the network with torch.nn.functional, and writes every layer's
output in NHWC (Keras channels_last) as raw little-endian float32 plus a
manifest.json:

  {"layers": [{"name": "input_1", "shape": [1, 200, 300, 3], "file": "input_1.f32"}, ...],
   "torch": "1.13.0", "threads": 2}

Nothing here is shared with the Go implementation.
"""
import argparse
import json
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

BLOCKS = {"vgg16": [2, 2, 3, 3, 3], "vgg19": [2, 2, 4, 4, 4]}
CAFFE_MEAN_BGR = [103.939, 116.779, 123.68]
FILTERS = {
    "nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
    "lanczos": Image.LANCZOS, "box": Image.BOX, "hamming": Image.HAMMING,
}


def keras_weights(path):
    """Returns {layer_name: [arrays in weight_names order]} like Keras 2's loader."""
    out = {}
    with h5py.File(path, "r") as f:
        g = f["model_weights"] if "model_weights" in f and "layer_names" not in f.attrs else f
        for raw in g.attrs["layer_names"]:
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            lg = g[name]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in lg.attrs["weight_names"]]
            out[name] = [np.asarray(lg[n], dtype=np.float32) for n in names]
    return out


def load_img(path, size, interpolation):
    img = Image.open(path)
    if img.mode != "RGB":
        img = img.convert("RGB")
    if size is not None:
        wh = (size[1], size[0])
        if img.size != wh:
            img = img.resize(wh, FILTERS[interpolation])
    return np.asarray(img, dtype=np.float32)


def preprocess_caffe(x):
    x = x[..., ::-1].copy()
    for c in range(3):
        x[..., c] -= CAFFE_MEAN_BGR[c]
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--model", choices=sorted(BLOCKS), required=True)
    ap.add_argument("--top", action="store_true")
    ap.add_argument("--image", required=True)
    ap.add_argument("--size", help="HxW")
    ap.add_argument("--interpolation", default="nearest", choices=sorted(FILTERS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    size = tuple(int(v) for v in a.size.split("x")) if a.size else None
    w = keras_weights(a.weights)
    x = preprocess_caffe(load_img(a.image, size, a.interpolation))[None]  # NHWC
    os.makedirs(a.out, exist_ok=True)
    layers = []

    def emit(name, t_nhwc):
        arr = np.ascontiguousarray(t_nhwc, dtype="<f4")
        fn = name + ".f32"
        arr.tofile(os.path.join(a.out, fn))
        layers.append({"name": name, "shape": list(arr.shape), "file": fn})

    emit("input_1", x)
    with torch.no_grad():
        t = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()  # NCHW for torch
        for b, n in enumerate(BLOCKS[a.model], start=1):
            for c in range(1, n + 1):
                name = "block%d_conv%d" % (b, c)
                k, bias = w[name]
                t = F.relu(F.conv2d(t, torch.from_numpy(k).permute(3, 2, 0, 1).contiguous(),
                                    torch.from_numpy(bias), padding=1))
                emit(name, t.permute(0, 2, 3, 1).numpy())
            t = F.max_pool2d(t, 2)
            emit("block%d_pool" % b, t.permute(0, 2, 3, 1).numpy())
        if a.top:
            t = t.permute(0, 2, 3, 1).reshape(t.shape[0], -1)  # Keras flattens NHWC
            emit("flatten", t.numpy())
            for name in ["fc1", "fc2", "predictions"]:
                k, bias = w[name]
                t = t @ torch.from_numpy(k) + torch.from_numpy(bias)
                t = torch.softmax(t, dim=-1) if name == "predictions" else F.relu(t)
                emit(name, t.numpy())
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump({"layers": layers, "torch": torch.__version__, "threads": torch.get_num_threads()}, f)


if __name__ == "__main__":
    main()
