#!/usr/bin/python3
"""PyTorch side of bench/vgg: VGG19 features (no top) forward time per batch, in
the default layout (NCHW) and channels_last. Prints one JSON object."""
import json
import sys
import time

import torch
import torch.nn.functional as F

BLOCKS = [2, 2, 4, 4, 4]
FILTERS = [64, 128, 256, 512, 512]


def build():
    torch.manual_seed(1)
    ws, cin = [], 3
    for b, n in enumerate(BLOCKS):
        for _ in range(n):
            w = torch.randn(FILTERS[b], cin, 3, 3) * (2.0 / (9 * cin)) ** 0.5
            ws.append((w, torch.full((FILTERS[b],), 0.01)))
            cin = FILTERS[b]
    return ws


def forward(ws, x):
    i = 0
    for n in BLOCKS:
        for _ in range(n):
            w, b = ws[i]
            x = F.relu(F.conv2d(x, w, b, padding=1))
            i += 1
        x = F.max_pool2d(x, 2)
    return x


def main():
    torch.set_num_threads(int(sys.argv[1]))
    reps = int(sys.argv[2])
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "runs": {}}
    ws = build()
    ws_cl = [(w.contiguous(memory_format=torch.channels_last), b) for w, b in ws]
    for spec in sys.argv[3:]:
        n, h, w = (int(v) for v in spec.split("x"))
        for layout, weights in (("default", ws), ("channels_last", ws_cl)):
            x = torch.randn(n, 3, h, w)
            if layout == "channels_last":
                x = x.contiguous(memory_format=torch.channels_last)
            times = []
            with torch.no_grad():
                forward(weights, x)
                for _ in range(reps):
                    t0 = time.perf_counter()
                    forward(weights, x)
                    times.append(time.perf_counter() - t0)
            times.sort()
            out["runs"][spec + "/" + layout] = times[len(times) // 2]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
