#!/usr/bin/env python3
"""Opacus DP-SGD throughput on the workload of `shroud bench train`, for a side-by-side run.

Same models (logistic regression; MLP 64-32 with ReLU and one logit, binary cross-entropy),
same synthetic data shape (N examples x 20 features in [-1, 1], a noisy linear label), Poisson
sampling with q = 256 / N (expected batch 256), per-example clipping to 1, noise multiplier 1,
plain SGD at rate 0.1, CPU torch on one thread. Prints examples per second: the sampled
batches' total size over the wall time of the training loop (data loading included, model
and engine set-up excluded), as shroud measures it.

    pip install torch opacus          # CPU is enough
    python3 benches/opacus_train.py --json
"""

import argparse
import json
import time

import torch
from torch import nn

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

from opacus import PrivacyEngine  # noqa: E402  (after the thread settings)


def synthetic(n, d, seed=7):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=g) * 2 - 1
    s = x[:, ::2].sum(dim=1) + 0.5 * (torch.rand(n, generator=g) * 2 - 1)
    y = (s > 0).float().unsqueeze(1)
    return x, y


def model(name, d):
    if name == "logreg":
        return nn.Linear(d, 1)
    if name == "mlp:64,32":
        return nn.Sequential(
            nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 1)
        )
    raise SystemExit(f"unknown model {name}")


def throughput(name, x, y, epochs, private):
    n, d = x.shape
    net = model(name, d)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=256, shuffle=not private
    )
    if private:
        engine = PrivacyEngine(accountant="rdp")
        net, opt, loader = engine.make_private(
            module=net,
            optimizer=opt,
            data_loader=loader,
            noise_multiplier=1.0,
            max_grad_norm=1.0,
            poisson_sampling=True,
        )
    loss_fn = nn.BCEWithLogitsLoss()
    examples = 0
    t = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in loader:
            if len(xb) == 0:
                continue
            opt.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
            examples += len(xb)
    return examples / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=25_600)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    x, y = synthetic(a.examples, 20)
    rows = []
    for name in ["logreg", "mlp:64,32"]:
        rows.append(
            {
                "model": name,
                "dp_sgd_examples_per_s": throughput(name, x, y, a.epochs, True),
                "sgd_examples_per_s": throughput(name, x, y, a.epochs, False),
                "features": 20,
                "expected_batch": 256,
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
            }
        )
    if a.json:
        print(json.dumps({"opacus": rows}))
    else:
        for r in rows:
            print(f"{r['model']:<12} DP-SGD {r['dp_sgd_examples_per_s']:>12.0f} ex/s"
                  f"   SGD {r['sgd_examples_per_s']:>12.0f} ex/s")


if __name__ == "__main__":
    main()
