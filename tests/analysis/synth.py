"""A synthetic campaign folder, written exactly as docs/formats.md describes, from a seed and
a known truth (mean energy and duration per framework), so tests can check that the analysis
finds effects that are there and claims none that are not."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

T0 = 1_800_000_000.0
# phases in sequence; compile is the first tenth of epoch_1 (the first step), as in real runs
PHASE_SHARES = {"startup": 0.07, "data_to_device": 0.01, "epoch_1": 0.3, "epoch_2": 0.28,
                "epoch_3": 0.28, "eval": 0.06}  # fmt: skip
DOMAIN_SHARES = {"cpu-package-0": 0.85, "dram-0": 0.15}
BASELINE_W = {"cpu-package-0": 4.0, "dram-0": 1.0}
IDLE_S = 60
TAIL = 1.5  # the first half of an idle gap: the previous run's tail lifts the power
CONFIG = {"epochs": 3, "batch_size": 64, "learning_rate": 0.001, "seed": 0,
          "limit_train": None, "limit_test": None, "init": "shared"}  # fmt: skip


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2))


def write_campaign(
    root: Path,
    *,
    frameworks: Sequence[str] = ("keras", "torch", "jax"),
    iterations: int = 12,
    energy_j: Mapping[str, float] | None = None,
    duration_s: Mapping[str, float] | None = None,
    cv: float = 0.03,
    meter: str = "rapl",
    seed: int = 0,
    failed: Sequence[str] = (),
    outliers: Sequence[str] = (),
    with_power_csv: bool = True,
    drift: float = 0.0,
    extra_domains: Mapping[str, float] | None = None,
    summable_flag: bool = True,
) -> Path:
    """Write `root` as a campaign folder. `failed` lists run ids written with status failed;
    `outliers` lists run ids whose energy is tripled (flagged outliers); ids that do not
    exist are ignored, so a test can name every position of an iteration. `drift` is the
    relative rise of every framework's energy and time from the first iteration to the last
    (slow drift, e.g. the machine heating up); `extra_domains` adds nested domains (not
    summable) with that share of the total; `summable_flag` writes run.json's per-domain
    `summable` (False: a folder from before the flag existed)."""
    rng = np.random.default_rng(seed)
    energy_j = dict(energy_j or {f: 1000.0 for f in frameworks})
    duration_s = dict(duration_s or {f: 20.0 for f in frameworks})
    root.mkdir(parents=True, exist_ok=True)
    order = [list(rng.permutation(list(frameworks))) for _ in range(iterations)]
    _write_json(
        root / "campaign.json",
        {
            "schema": "fwenergy.campaign",
            "schema_version": 1,
            "campaign_id": root.name,
            "created_at": T0,
            "frameworks": list(frameworks),
            "iterations": iterations,
            "seed": seed,
            "order": order,
            "protocol": {
                "warmup_s": 300,
                "idle_s": 60,
                "run_timeout_s": 3600,
                "max_failures": 10,
                "runtime": "docker",
                "meters": [meter],
                "interval_ms": 100,
                "cpuset": "1-7",
                "memory_limit": "8g",
            },
            "workload": CONFIG | {"threads": 4, "device": "cpu"},
            "dataset": {"name": "mnist", "path": "/data/mnist", "sha256": "ab" * 32},
            "provenance": {
                "host": {"hostname": "synth"},
                "cpu": {"model": "Synthetic CPU @ 3.0GHz", "logical": 8},
                "kernel": "6.1.0-synth",
                "governor": "performance",
                "boost": "off",
                "memory_bytes": 16 * 2**30,
                "gpus": [],
                "docker": {"version": "24.0"},
                "images": {f: f"sha256:{f * 4}" for f in frameworks},
                "packages": {f: {"version": "1.0"} for f in frameworks},
                "project_commit": "0" * 40,
            },
        },
    )
    probe = np.round(rng.normal(size=(8, 10)), 6)
    state_lines = []
    t = T0 + 300
    _write_idle(root, "000-0-start", t - IDLE_S, meter)
    for it, frameworks_in_order in enumerate(order, 1):
        rise = 1 + drift * (it - 1) / max(1, iterations - 1)
        for pos, fw in enumerate(frameworks_in_order, 1):
            run_id = f"{it:03d}-{pos}-{fw}"
            dur = float(duration_s[fw] * rise * (1 + cv * rng.standard_normal()))
            total = float(energy_j[fw] * rise * (1 + cv * rng.standard_normal()))
            if run_id in outliers:
                total *= 3
            status = "failed" if run_id in failed else "ok"
            run_dir = root / "runs" / run_id
            run_dir.mkdir(parents=True)
            start, end = t, t + dur
            _write_run(
                run_dir,
                run_id=run_id,
                iteration=it,
                position=pos,
                fw=fw,
                status=status,
                start=start,
                end=end,
                total_j=total,
                meter=meter,
                probe=probe,
                rng=rng,
                with_power_csv=with_power_csv,
                extra_domains=dict(extra_domains or {}),
                summable_flag=summable_flag,
            )
            state_lines.append(
                json.dumps(
                    {
                        "run_id": run_id,
                        "iteration": it,
                        "position": pos,
                        "framework": fw,
                        "status": status,
                        "finished_at": end,
                    }
                )
            )
            _write_idle(root, run_id, end, meter)
            t = end + IDLE_S
    (root / "state.jsonl").write_text("\n".join(state_lines) + "\n")
    return root


def idle_power_w(domain: str, second: int, baseline_w: float) -> float:
    """The synthetic idle power: the first half of a gap still carries the previous run's
    tail (TAIL x the baseline), the settled second half alternates +-1% around it."""
    if second <= IDLE_S // 2:
        return baseline_w * TAIL
    return baseline_w * (1.01 if second % 2 else 0.99)


def write_idle_gap(
    root: Path, name: str, start: float, meter: str, baseline_w: Mapping[str, float]
) -> None:
    """idle/<name>/ as orchestrator/campaign/idle.py writes it: idle.json (whole-gap mean
    power per domain) and the meter's power-<meter>.csv, one row per second."""
    idle = root / "idle" / name
    idle.mkdir(parents=True)
    if meter == "none":
        energy: dict[str, Any] = {}
    else:
        energy = {}
        with (idle / f"power-{meter}.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["time_s", *(f"{d}_power_w" for d in baseline_w)])
            for k in range(IDLE_S + 1):
                powers = [f"{idle_power_w(d, k, b):.6f}" for d, b in baseline_w.items()]
                w.writerow([f"{start + k:.3f}", *powers])
        for d, b in baseline_w.items():
            mean = float(np.mean([idle_power_w(d, k, b) for k in range(1, IDLE_S + 1)]))
            energy[d] = {"energy_j": mean * IDLE_S, "mean_power_w": mean, "meter": meter}
    _write_json(
        idle / "idle.json",
        {
            "schema": "fwenergy.idle",
            "schema_version": 1,
            "start": start,
            "end": start + IDLE_S,
            "duration_s": float(IDLE_S),
            "energy": energy,
            "notes": [],
        },
    )


def _write_idle(root: Path, name: str, start: float, meter: str) -> None:
    write_idle_gap(root, name, start, meter, BASELINE_W)


def _write_run(
    run_dir: Path,
    *,
    run_id: str,
    iteration: int,
    position: int,
    fw: str,
    status: str,
    start: float,
    end: float,
    total_j: float,
    meter: str,
    probe: np.ndarray,
    rng: np.random.Generator,
    with_power_csv: bool,
    extra_domains: dict[str, float],
    summable_flag: bool,
) -> None:
    dur = end - start
    # phase boundaries
    bounds, t = {}, start + 0.2
    for name, share in PHASE_SHARES.items():
        bounds[name] = (t, t + share * (dur - 0.4))
        t = bounds[name][1]
    e1 = bounds["epoch_1"]
    bounds["compile"] = (e1[0], e1[0] + 0.1 * (e1[1] - e1[0]))
    energy: dict[str, Any] = {}
    if meter != "none":
        for d, share in DOMAIN_SHARES.items():
            gross = total_j * share
            base = BASELINE_W[d] * dur
            energy[d] = {
                "meter": meter,
                "gross_j": gross,
                "mean_power_w": gross / dur,
                "baseline_power_w": BASELINE_W[d],
                "baseline_j": base,
                "net_j": gross - base,
                "method": "counter",
                "estimated": False,
            }
            if summable_flag:
                energy[d]["summable"] = True
        for d, share in extra_domains.items():
            energy[d] = {
                "meter": meter,
                "gross_j": total_j * share,
                "mean_power_w": total_j * share / dur,
                "method": "counter",
                "estimated": False,
            }
            if summable_flag:
                energy[d]["summable"] = False
    phases = []
    for name, (s, e) in bounds.items():
        frac = (e - s) / dur
        phases.append(
            {
                "name": name,
                "start": s,
                "end": e,
                "duration_s": e - s,
                "energy_j": {d: v["gross_j"] * frac for d, v in energy.items()},
            }
        )
    ok = status == "ok"
    _write_json(
        run_dir / "run.json",
        {
            "schema": "fwenergy.run",
            "schema_version": 1,
            "run_id": run_id,
            "iteration": iteration,
            "position": position,
            "framework": fw,
            "status": status,
            "exit_code": 0 if ok else 1,
            "error": None if ok else "workload exited with 1",
            "started_at": start,
            "ended_at": end,
            "duration_s": dur,
            "runtime": {"kind": "docker", "image_id": f"sha256:{fw * 4}", "container_id": "c"},
            "meters": [{"name": "none"}]
            if meter == "none"
            else [{"name": meter, "interval_ms": 100, "samples": f"samples-{meter}.csv"}],
            "energy": energy,
            "phases": phases,
            "notes": [],
        },
    )
    events = [
        {"event": "process_start", "t": bounds["startup"][0]},
        {"event": "imports_done", "t": bounds["startup"][0] + 0.5},
        {
            "event": "data_loaded",
            "t": bounds["startup"][0] + 0.8,
            "train_count": 60000,
            "test_count": 10000,
        },
        {"event": "model_built", "t": bounds["startup"][1], "parameter_count": 268298},
        {"event": "data_on_device", "t": bounds["data_to_device"][1]},
    ]
    losses = []
    for k in (1, 2, 3):
        s, e = bounds[f"epoch_{k}"]
        loss = round(0.3 / k + 0.001 * float(rng.random()), 6)
        losses.append({"epoch": k, "mean_loss": loss, "duration_s": e - s})
        events.append({"event": "epoch_start", "epoch": k, "t": s})
        if k == 1:
            events.append({"event": "first_step_end", "epoch": 1, "t": bounds["compile"][1]})
        events.append({"event": "epoch_end", "epoch": k, "t": e, "mean_loss": loss})
    accuracy = round(0.985 + 0.003 * float(rng.standard_normal()), 4)
    events += [
        {"event": "eval_start", "t": bounds["eval"][0]},
        {"event": "eval_end", "t": bounds["eval"][1], "test_accuracy": accuracy},
    ]
    if ok:
        events.append({"event": "done", "t": bounds["eval"][1] + 0.01})
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (run_dir / "stdout.log").write_text(f"synthetic {fw} run\n")
    if ok:
        _write_json(
            run_dir / "result.json",
            {
                "schema": "fwenergy.result",
                "schema_version": 1,
                "framework": fw,
                "framework_version": "1.0",
                "versions": {"python": "3.11.7", "numpy": "2.0"},
                "device": {"requested": "cpu", "used": "cpu", "name": "Synthetic CPU"},
                "threads": {"requested": 4, "intra_op": 4, "inter_op": 1},
                "numerics": {
                    "precision": "fp32",
                    "tf32_matmul": False,
                    "tf32_conv": False,
                    "conv_autotune": False,
                    "gpu_memory_preallocated": False,
                },
                "config": CONFIG,
                "parameter_count": 268298,
                "dataset": {
                    "name": "mnist",
                    "sha256": "ab" * 32,
                    "train_count": 60000,
                    "test_count": 10000,
                },
                "identical_work": {
                    "initial_weights_sha256": hashlib.sha256(b"w").hexdigest(),
                    "batch_order_sha256": hashlib.sha256(b"b").hexdigest(),
                    "probe_logits": (probe + rng.normal(0, 1e-5, probe.shape)).round(6).tolist(),
                },
                "epochs": losses,
                "test_accuracy": accuracy,
                "test_loss": 0.05,
                "peak_rss_bytes": int(1.5e9 * (1 + 0.01 * rng.standard_normal())),
                "phases": {
                    "startup_s": bounds["startup"][1] - bounds["startup"][0],
                    "data_to_device_s": bounds["data_to_device"][1] - bounds["data_to_device"][0],
                    "compile_s": bounds["compile"][1] - bounds["compile"][0],
                    "train_s": bounds["epoch_3"][1] - bounds["epoch_1"][0],
                    "eval_s": bounds["eval"][1] - bounds["eval"][0],
                    "total_s": dur,
                },
                "started_at": start,
                "ended_at": end,
            },
        )
    if meter != "none":
        times = np.arange(start, end, 0.1)
        counters = {d: 0.0 for d in energy}
        with (run_dir / f"samples-{meter}.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["time_s", *(f"{d}_energy_uj" for d in energy)])
            for tt in times:
                w.writerow([f"{tt:.3f}", *(int(counters[d] * 1e6) for d in energy)])
                for d, v in energy.items():
                    counters[d] += v["mean_power_w"] * 0.1
        if with_power_csv:
            with (run_dir / f"power-{meter}.csv").open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["time_s", *(f"{d}_power_w" for d in energy)])
                for tt in times:
                    in_epoch = any(s <= tt < e for n, (s, e) in bounds.items() if "epoch" in n)
                    scale = 1.15 if in_epoch else 0.7
                    w.writerow(
                        [
                            f"{tt:.3f}",
                            *(f"{v['mean_power_w'] * scale:.4f}" for v in energy.values()),
                        ]
                    )


def write_imported(root: Path, *, runs_per_framework: int = 6, seed: int = 0) -> Path:
    """A campaign as the EnergiBridge import writes it: campaign.json with an "imported" key,
    run.json files with package energy only, no position, phases, result.json or events."""
    rng = np.random.default_rng(seed)
    frameworks = ["keras", "torch"]
    root.mkdir(parents=True, exist_ok=True)
    _write_json(root / "campaign.json", {
        "schema": "fwenergy.campaign", "schema_version": 1, "campaign_id": root.name,
        "created_at": T0, "frameworks": frameworks, "iterations": runs_per_framework,
        "imported": {"tool": "energibridge", "source": "/somewhere/csvs"},
    })  # fmt: skip
    t = T0
    for fw, base_j in zip(frameworks, (2200.0, 3200.0), strict=True):
        for i in range(1, runs_per_framework + 1):
            dur = 35.0 * (1 + 0.02 * float(rng.standard_normal()))
            gross = base_j * (1 + 0.02 * float(rng.standard_normal()))
            run_id = f"{i:03d}-{fw}"
            run_dir = root / "runs" / run_id
            run_dir.mkdir(parents=True)
            _write_json(run_dir / "run.json", {
                "schema": "fwenergy.run", "schema_version": 1, "run_id": run_id,
                "iteration": i, "position": None, "framework": fw, "status": "ok",
                "started_at": t, "ended_at": t + dur, "duration_s": dur,
                "meters": [{"name": "energibridge"}],
                "energy": {"cpu-package-0": {"meter": "energibridge", "gross_j": gross,
                                             "mean_power_w": gross / dur, "method": "counter",
                                             "estimated": False}},
            })  # fmt: skip
            t += dur + 60
    return root
