"""Reference: the plainest expert PyTorch training loop for the benchmark's CNN (usage and
output: harness.py). Shares no code with the workload (its own data loading, model and
loop), so that benchmarks/workloads.py can show how close the workload comes to it."""

from harness import EpochClock, arguments, training_set

args = arguments()

import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(args.threads)
x_np, y_np = training_set(args)
x, y = torch.from_numpy(x_np).unsqueeze(1), torch.from_numpy(y_np)  # NCHW

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

clock = EpochClock()
for _ in range(args.epochs):
    clock.start()
    order = torch.randperm(len(y))
    for i in range(0, len(y), args.batch_size):
        idx = order[i : i + args.batch_size]
        loss = loss_fn(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    clock.stop()
clock.report(torch.__version__, loss.item())
