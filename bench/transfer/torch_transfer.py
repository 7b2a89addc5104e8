#!/usr/bin/python3
"""PyTorch side of bench/transfer: the transfer-learning post's training steps,
the same shapes as the Go side (random weights: the time does not depend on
them), in NCHW (PyTorch's default) and channels_last. Prints one JSON object:
for each case and layout, the first step's seconds and seconds per step after.

usage: torch_transfer.py THREADS SECONDS"""
import json
import sys
import time

import torch
from torch import nn

torch.manual_seed(1)
torch.set_num_threads(int(sys.argv[1]))
seconds = float(sys.argv[2])

CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16_features(upto_pools):
    layers, c, pools = [], 3, 0
    for v in CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
            pools += 1
            if pools == upto_pools:
                break
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
            c = v
    return nn.Sequential(*layers), c


def head(c, spatial):
    s = (spatial - 2) // 2
    return nn.Sequential(nn.Conv2d(c, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64 * s * s, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))


def measure(model, params, x, y):
    opt = torch.optim.RMSprop(params, lr=1e-4, alpha=0.9, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    n, t0 = 0, time.perf_counter()
    while n < 2 or time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return {"first_s": first, "step_s": (time.perf_counter() - t0) / n, "steps": n}


def cases(layout):
    out = {}
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    # (a) head only on cached block2_pool features, batch 32.
    h = head(128, 40).to(memory_format=fmt)
    x = torch.rand(32, 128, 40, 40).to(memory_format=fmt)
    out["a"] = measure(h, h.parameters(), x, torch.randint(0, 10, (32,)))
    # (b) end to end, VGG16 to block2_pool frozen + head, batch 8, 160x160.
    base, c = vgg16_features(2)
    for p in base.parameters():
        p.requires_grad = False
    m = nn.Sequential(base, head(c, 40)).to(memory_format=fmt)
    x = torch.rand(8, 3, 160, 160).to(memory_format=fmt)
    y = torch.randint(0, 10, (8,))
    out["b"] = measure(m, [p for p in m.parameters() if p.requires_grad], x, y)
    # (c) fine-tuning, VGG16 to block5_pool, every conv trainable + head, batch 8, 160x160.
    base, c = vgg16_features(5)
    m = nn.Sequential(base, head(c, 5)).to(memory_format=fmt)
    out["c"] = measure(m, m.parameters(), x, y)
    return out


res = {"torch": torch.__version__, "threads": torch.get_num_threads(),
       "default": cases("default"), "channels_last": cases("channels_last")}
print(json.dumps(res))
