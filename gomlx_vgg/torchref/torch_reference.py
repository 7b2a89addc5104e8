#!/usr/bin/python3
"""Independent reference for gomlx_vgg: Keras' VGG16/VGG19 written in PyTorch.

Reads a Keras weight file with h5py the way Keras 2's load_weights does
(layer_names / weight_names attributes, at the root or under /model_weights),
loads an image the way keras.utils.load_img does (PIL, convert("RGB"),
Image.resize with the named filter), applies preprocess_input in caffe mode in
numpy, runs the network with torch.nn.functional, and writes every layer's
output in NHWC (Keras channels_last) plus a manifest.json.

The truth is computed in float64: the float32 weights and the float32
preprocessed input are converted to float64 after loading, and every layer runs
in float64, so the reference's own rounding (~1e-16) is far below the 1e-5
tolerance and does not depend on the BLAS the machine has. With --float32 the
same network also runs in float32, as PyTorch users run it, so its own error
against the same truth can be shown beside Go's.

  {"layers": [{"name": "input_1", "shape": [1, 200, 300, 3], "file": "input_1.f64",
               "float32_file": "input_1.f32"}, ...],
   "torch": "1.13.0", "threads": 2, "dtype": "float64"}

Files are raw little-endian float64 (.f64) and float32 (.f32).
Nothing here is shared with the Go implementation.
"""
import argparse
import json
import os
import time

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


def forward(x, w, model, top, dtype, emit, watch=None, keep=None, last=None):
    """Runs VGG on the NHWC input x (numpy, or an NHWC tensor) with weights w in
    dtype, calling emit(name, NHWC array) for every layer after input_1, and
    returns the last output. With watch (a convolution layer's name, or input_1)
    autograd records from that layer's output on, predictions are the scores
    before softmax, and the watched output (NCHW) is returned too: (last,
    watched). keep, a dict, gets the NCHW tensors of the layers it names; the
    network stops after layer last if given."""
    def p(a):
        if torch.is_tensor(a):  # a weight whose gradient is asked for
            return a.to(dtype)
        return torch.from_numpy(np.asarray(a, dtype=np.float32)).to(dtype)

    def out(name, t):
        if keep is not None and name in keep:
            keep[name] = t
        if emit is not None:
            emit(name, t.detach().permute(0, 2, 3, 1).numpy() if t.dim() == 4 else t.detach().numpy())
        return name == last

    watched = None
    with torch.set_grad_enabled(watch is not None):
        t = (x if torch.is_tensor(x) else p(x)).permute(0, 3, 1, 2).contiguous()  # NCHW for torch
        if watch == "input_1":
            t = watched = t.detach().requires_grad_(True)
        for b, n in enumerate(BLOCKS[model], start=1):
            for c in range(1, n + 1):
                name = "block%d_conv%d" % (b, c)
                k, bias = w[name]
                t = F.relu(F.conv2d(t, p(k).permute(3, 2, 0, 1).contiguous(), p(bias), padding=1))
                if name == watch:
                    t = watched = t.detach().requires_grad_(True)
                if out(name, t):
                    return (t, watched) if watch is not None else t
            t = F.max_pool2d(t, 2)
            if out("block%d_pool" % b, t):
                return (t, watched) if watch is not None else t
        if top:
            t = t.permute(0, 2, 3, 1).reshape(t.shape[0], -1)  # Keras flattens NHWC
            out("flatten", t)
            for name in ["fc1", "fc2", "predictions"]:
                k, bias = w[name]
                t = t @ p(k) + p(bias)
                if name != "predictions":
                    t = F.relu(t)
                elif watch is None:
                    t = torch.softmax(t, dim=-1)
                out(name, t)
    if watch is not None:
        if watched is None:
            raise SystemExit("torch_reference: no convolution layer %s in %s" % (watch, model))
        return t, watched
    return t


def gradcam(x, w, model, layer, classes, emit):
    """Grad-CAM's ingredients in float64 with autograd: the output A of the
    convolution layer and, for each class k, the score before softmax and
    dscore/dA (NHWC), from one forward pass."""
    scores, act = forward(x, w, model, True, torch.float64, None, watch=layer)
    emit("gradcam_activation", act.detach().permute(0, 2, 3, 1).numpy())
    for k in classes:
        score = scores[0, k]
        act.grad = None
        score.backward(retain_graph=True)
        emit("gradcam_gradient_%d" % k, act.grad.permute(0, 2, 3, 1).numpy())
        emit("gradcam_score_%d" % k, score.detach().reshape(1).numpy())


def probe_values(n):
    """The probe P of --probe, the same formula as torchref.ProbeValue."""
    i = np.arange(n, dtype=np.float64)
    return np.sin(0.37 * i + 0.11)


def probe(x, w, model, last, emit):
    """The gradients of the loss sum(out * P), out being layer last's output
    (NHWC) and P probe_values, with respect to every convolution's kernel
    (HWIO) and bias up to last, in float64 with autograd."""
    wd = {}
    for name, (k, bias) in w.items():
        wd[name] = [torch.from_numpy(k).to(torch.float64).requires_grad_(True),
                    torch.from_numpy(bias).to(torch.float64).requires_grad_(True)]
    out, _ = forward(x, wd, model, False, torch.float64, None, watch="input_1", last=last)
    nhwc = out.permute(0, 2, 3, 1)
    p = torch.from_numpy(probe_values(nhwc.numel()).reshape(tuple(nhwc.shape)))
    (nhwc * p).sum().backward()
    for b, n in enumerate(BLOCKS[model], start=1):
        for c in range(1, n + 1):
            name = "block%d_conv%d" % (b, c)
            k, bias = wd[name]
            if k.grad is None:
                return
            emit("probe_kernel_gradient_" + name, k.grad.numpy())
            emit("probe_bias_gradient_" + name, bias.grad.numpy())


def gram(f):
    """The Gram matrix of f (1, C, h, w): (C, C)."""
    f = f.reshape(f.shape[1], -1)
    return f @ f.t()


class StyleLoss:
    """Keras' example's neural style transfer loss on VGG: content (the
    content layer's features), style (Gram matrices of the style layers, the
    example's normalisation 4 * 3^2 * (H*W)^2) and total variation, weighted."""

    def __init__(self, w, model, content, style, content_layer, style_layers, weights, dtype):
        self.w, self.model, self.dtype = w, model, dtype
        self.content_layer, self.style_layers = content_layer, style_layers
        self.cw, self.sw, self.tvw = weights
        self.names = [content_layer] + style_layers
        self.last = max(self.names, key=self.order)
        keep = self.features(content)
        self.content = keep[content_layer].detach()
        keep = self.features(style)
        self.grams = {n: gram(keep[n]).detach() for n in style_layers}
        self.size = content.shape[1] * content.shape[2]

    def order(self, name):
        return [n for b, c in enumerate(BLOCKS[self.model], start=1) for n in
                ["block%d_conv%d" % (b, i) for i in range(1, c + 1)] + ["block%d_pool" % b]].index(name)

    def features(self, x):
        keep = dict.fromkeys(self.names)
        forward(x, self.w, self.model, False, self.dtype, None, keep=keep, last=self.last)
        return keep

    def __call__(self, x):
        """The three weighted losses at x (NHWC tensor) and x's NCHW leaf, whose
        .grad a backward() of their sum fills."""
        keep = dict.fromkeys(self.names)
        _, xin = forward(x, self.w, self.model, False, self.dtype, None, watch="input_1", keep=keep, last=self.last)
        with torch.enable_grad():
            content = self.cw * ((keep[self.content_layer] - self.content) ** 2).sum()
            style = 0
            for n in self.style_layers:
                style = style + ((gram(keep[n]) - self.grams[n]) ** 2).sum() / (4.0 * 9 * self.size ** 2)
            style = self.sw / len(self.style_layers) * style
            h, w = xin.shape[2], xin.shape[3]
            c = xin[:, :, :h - 1, :w - 1]
            a = (c - xin[:, :, 1:, :w - 1]) ** 2
            b = (c - xin[:, :, :h - 1, 1:]) ** 2
            tv = self.tvw * ((a + b) ** 1.25).sum()
        return content, style, tv, xin


def style_loss(a, w, model, x, style_x, dtype):
    """The StyleLoss the command line asks for, the images (numpy) in dtype."""
    return StyleLoss(w, model, torch.from_numpy(x).to(dtype), torch.from_numpy(style_x).to(dtype), a.content_layer,
                     a.style_layers.split(","), [float(v) for v in a.style_weights.split(",")], dtype)


def style_reference(x, style_x, w, model, a, emit, emit32=None):
    """The style transfer loss terms and their gradient in float64 at the
    combination image (a raw NHWC float32 file, else the content image x); with
    emit32 the same in float32 too."""
    comb = x
    if a.combination:
        comb = np.fromfile(a.combination, dtype="<f4").reshape(x.shape)
    kernels = [k for k in a.kernel_gradients.split(",") if k]
    for dtype, out in [(torch.float64, emit), (torch.float32, emit32)]:
        if out is None:
            continue
        wd = dict(w)
        for k in kernels:  # leaves whose gradients backward() fills (HWIO, as Keras stores them)
            wd[k] = [torch.from_numpy(w[k][0]).to(dtype).requires_grad_(True)] + w[k][1:]
        loss = style_loss(a, wd, model, x, style_x, dtype)
        content, style, tv, xin = loss(torch.from_numpy(comb).to(dtype))
        (content + style + tv).backward()
        for name, v in [("content", content), ("style", style), ("tv", tv)]:
            out("style_%s_loss" % name, np.array([v.item()]))
        out("style_gradient", xin.grad.permute(0, 2, 3, 1).numpy())
        for k in kernels:
            out("style_kernel_gradient_" + k, wd[k][0].grad.numpy())


def style_run(x, style_x, w, model, a, out):
    """Keras' example's SGD loop in float32 for a.style_steps steps, timed:
    writes style_run.json (each step's losses and seconds) and the final image
    (style_image.f32, NHWC preprocessed)."""
    loss = style_loss(a, w, model, x, style_x, torch.float32)
    lr0, decay_steps, decay_rate = [float(v) for v in a.style_lr.split(",")]
    img = torch.from_numpy(x.copy())
    steps = []
    for s in range(a.style_steps):
        t0 = time.perf_counter()
        content, style, tv, xin = loss(img)
        (content + style + tv).backward()
        lr = lr0 * decay_rate ** (s / decay_steps)
        img = (img - lr * xin.grad.permute(0, 2, 3, 1)).detach()
        steps.append({"content": content.item(), "style": style.item(), "tv": tv.item(),
                      "seconds": time.perf_counter() - t0})
    np.ascontiguousarray(img.numpy(), dtype="<f4").tofile(os.path.join(out, "style_image.f32"))
    with open(os.path.join(out, "style_run.json"), "w") as f:
        json.dump({"steps": steps, "torch": torch.__version__, "threads": torch.get_num_threads()}, f)


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
    ap.add_argument("--float32", action="store_true",
                    help="also run the network in float32 (PyTorch's default precision)")
    ap.add_argument("--gradcam", metavar="LAYER",
                    help="instead of the layers: Grad-CAM's activation, gradient and score at LAYER (needs --top)")
    ap.add_argument("--classes", default="0", help="the classes of --gradcam, comma-separated")
    ap.add_argument("--probe", metavar="LAYER",
                    help="instead of the layers: the gradients of sum(LAYER's output * probe) for every conv kernel and bias")
    ap.add_argument("--style", metavar="IMAGE",
                    help="instead of the layers: style transfer's losses and gradient (float64) with this style image")
    ap.add_argument("--combination", help="--style: the image evaluated (raw NHWC float32, preprocessed)")
    ap.add_argument("--content-layer", default="block5_conv2")
    ap.add_argument("--style-layers", default="block1_conv1,block2_conv1,block3_conv1,block4_conv1,block5_conv1")
    ap.add_argument("--style-weights", default="2.5e-8,1e-6,1e-6", help="content, style, total variation")
    ap.add_argument("--kernel-gradients", default="",
                    help="--style: also the loss's gradients with respect to these layers' kernels, comma-separated")
    ap.add_argument("--style-steps", type=int, default=0,
                    help="--style: run this many SGD steps in float32 instead, timed")
    ap.add_argument("--style-lr", default="100,100,0.96", help="initial rate, decay steps, decay rate")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    size = tuple(int(v) for v in a.size.split("x")) if a.size else None
    w = keras_weights(a.weights)
    x = preprocess_caffe(load_img(a.image, size, a.interpolation))[None]  # NHWC, float32 as Keras
    os.makedirs(a.out, exist_ok=True)
    layers = []
    index = {}

    def emit64(name, arr):
        arr = np.ascontiguousarray(arr, dtype="<f8")
        fn = name + ".f64"
        arr.tofile(os.path.join(a.out, fn))
        index[name] = len(layers)
        layers.append({"name": name, "shape": list(arr.shape), "file": fn})

    def emit32(name, arr):
        arr = np.ascontiguousarray(arr, dtype="<f4")
        fn = name + ".f32"
        arr.tofile(os.path.join(a.out, fn))
        layers[index[name]]["float32_file"] = fn

    emit64("input_1", x)
    if a.style:
        style_x = preprocess_caffe(load_img(a.style, size, a.interpolation))[None]
        if style_x.shape != x.shape:
            raise SystemExit("torch_reference: the style image is %s, the content image %s: give --size" %
                             (style_x.shape, x.shape))
        if a.style_steps > 0:
            style_run(x, style_x, w, a.model, a, a.out)
        else:
            if a.float32:
                emit32("input_1", x)
            style_reference(x, style_x, w, a.model, a, emit64, emit32 if a.float32 else None)
        a.float32 = False
    elif a.probe:
        probe(x, w, a.model, a.probe, emit64)
        a.float32 = False
    elif a.gradcam:
        if not a.top:
            raise SystemExit("torch_reference: --gradcam needs --top")
        gradcam(x, w, a.model, a.gradcam, [int(k) for k in a.classes.split(",")], emit64)
        a.float32 = False
    else:
        forward(x, w, a.model, a.top, torch.float64, emit64)
    if a.float32:
        emit32("input_1", x)
        forward(x, w, a.model, a.top, torch.float32, emit32)
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump({"layers": layers, "torch": torch.__version__, "threads": torch.get_num_threads(),
                   "dtype": "float64"}, f)


if __name__ == "__main__":
    main()
