"""Does the container hardening change the workload's speed? Side by side, in one run.

    python benchmarks/hardening.py [--framework jax] [--pairs 3] [--limit-train 8192]
        [--epochs 2] [--threads 1] [--data DIR]

Runs the real image twice per pair, alternating which goes first: once with the options
every measured container gets (orchestrator.runtimes.docker.hardening: no capabilities,
no-new-privileges, read-only root with a /tmp tmpfs, a pids limit, an init process) and
once without them; everything else (image, user, mounts, network, threads) is the same.
Reports the training time (the workload's own epoch durations) and the container's wall
time, per variant: median, and the median of the per-pair ratios."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def run_container(client: Any, image: Any, spec: Any, hardened: bool) -> dict[str, float]:
    from orchestrator.runtimes.docker import container_options, hardening, isolated_id

    uid = isolated_id() if os.getuid() == 0 else os.getuid()
    os.chown(spec.out_dir, uid, uid)
    options = container_options(spec, f"{uid}:{uid}")
    if hardened:
        options.update(hardening())
    container = client.containers.create(image.id, **options)  # the copy is not timed
    try:
        t0 = time.monotonic()
        container.start()
        code = container.wait()["StatusCode"]
        wall_s = time.monotonic() - t0
        if code != 0:
            raise SystemExit(container.logs().decode(errors="replace")[-2000:])
    finally:
        container.remove(force=True)
    result = json.loads((spec.out_dir / "result.json").read_text())
    return {"train_s": sum(e["duration_s"] for e in result["epochs"]), "wall_s": wall_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", default="jax")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--limit-train", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", type=Path, default=None, help="a prepared dataset folder")
    args = parser.parse_args()

    from orchestrator.campaign.plan import WorkloadSettings
    from orchestrator.data import prepare_dataset
    from orchestrator.runtimes.base import RunSpec
    from orchestrator.runtimes.docker import DockerRuntime

    tmp = Path(tempfile.mkdtemp(prefix="fwenergy-hardening-"))
    data = (
        args.data
        or prepare_dataset(
            "fashion-mnist", tmp / "data", Path("/usr/share/datasets/fashion-mnist"), progress=False
        ).path
    )
    runtime = DockerRuntime()
    image = runtime.image(args.framework, "cpu")
    workload = WorkloadSettings(epochs=args.epochs, threads=args.threads,
                                limit_train=args.limit_train, limit_test=1000)  # fmt: skip
    figures: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for pair in range(args.pairs):
        for hardened in (pair % 2 == 0, pair % 2 == 1):  # alternate which goes first
            out = tmp / f"run-{pair}-{'hardened' if hardened else 'plain'}"
            out.mkdir()
            spec = RunSpec(args.framework, data.absolute(), out, workload.args())
            figures[hardened].append(run_container(runtime.client, image, spec, hardened))
            print(f"pair {pair + 1} {'hardened' if hardened else 'plain   '}: "
                  f"train {figures[hardened][-1]['train_s']:.2f} s, "
                  f"wall {figures[hardened][-1]['wall_s']:.2f} s", flush=True)  # fmt: skip
    for key in ("train_s", "wall_s"):
        plain = [f[key] for f in figures[False]]
        hard = [f[key] for f in figures[True]]
        ratios = [h / p for h, p in zip(hard, plain, strict=True)]
        print(f"{key}: plain median {statistics.median(plain):.2f}, hardened median "
              f"{statistics.median(hard):.2f}, hardened/plain per pair "
              f"{', '.join(f'{r:.3f}' for r in ratios)} (median "
              f"{statistics.median(ratios):.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
