#!/usr/bin/python3
"""PyTorch side of bench/mlp: the same MLP (784-128-128-10, SGD lr 0.5), training
steps per second at the given batch sizes; prints one JSON object."""
import json
import sys
import time

import torch

torch.manual_seed(1)
torch.set_num_threads(int(sys.argv[1]))
seconds = float(sys.argv[2])
out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "steps_per_s": {}}
for batch in [int(b) for b in sys.argv[3:]]:
    model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128),
                                torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x = torch.rand(batch, 784)
    y = torch.randint(0, 10, (batch,))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(20):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    out["steps_per_s"][str(batch)] = n / (time.perf_counter() - t0)
print(json.dumps(out))
