"""Reference: the plainest expert PyTorch training loop for the benchmark's CNN.

    python ref_torch.py --data DIR [--batch-size 64] [--epochs 2] [--threads N] [--limit-train N]

Shares no code with the workload (its own data loading, model and loop), so that
benchmarks/workloads.py can show how close the workload comes to what an expert would write.
Prints one JSON object: the wall and CPU time of each epoch."""

import argparse
import json
import os
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--data", type=Path, required=True)
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
parser.add_argument("--limit-train", type=int, default=None)
args = parser.parse_args()
os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.threads])

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(args.threads)
manifest = json.loads((args.data / "dataset.json").read_text())
with np.load(args.data / manifest["file"]) as npz:
    x = torch.from_numpy(npz["x_train"][: args.limit_train]).float().div(255).unsqueeze(1)
    y = torch.from_numpy(npz["y_train"][: args.limit_train]).long()

model = nn.Sequential(
    nn.Conv2d(1, 64, 3, padding=1),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Conv2d(64, 128, 5, padding=2),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(7 * 7 * 128, 10),
)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()

epoch_s = []
cpu_s = []
for _ in range(args.epochs):
    start, cpu_start = time.perf_counter(), time.process_time()
    order = torch.randperm(len(y))
    for i in range(0, len(y), args.batch_size):
        idx = order[i : i + args.batch_size]
        loss = loss_fn(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    epoch_s.append(time.perf_counter() - start)
    cpu_s.append(time.process_time() - cpu_start)
print(
    json.dumps(
        {"epoch_s": epoch_s, "cpu_s": cpu_s, "version": torch.__version__, "loss": loss.item()}
    )
)
