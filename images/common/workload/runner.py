"""One training run: the phases of docs/formats.md, in order, around a Framework."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from workload.batches import epoch_order, orders_sha256
from workload.config import TrainConfig, available_cpus
from workload.data import check_dataset, load_dataset
from workload.errors import WorkloadInputError
from workload.events import EventLog
from workload.framework import framework_name, implementation_name, load_framework
from workload.models import PROBE_SIZE, model_spec
from workload.result import base_versions, peak_rss_bytes, write_result
from workload.threads import pin_threads


def prepare_out(config: TrainConfig) -> bool:
    """Create --out if needed; True when this run created it."""
    out = config.out
    if out.exists() and not out.is_dir():
        raise WorkloadInputError(f"--out {out} exists and is not a folder")
    if (out / "result.json").exists():
        raise WorkloadInputError(f"--out {out} already holds a result.json; choose an empty folder")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    return created


def _first_step_callback(events: EventLog, epoch: int) -> Callable[[], object]:
    if epoch != 1:
        return lambda: None
    return lambda: events.emit("first_step_end", epoch=1)


def train(config: TrainConfig, process_start: float) -> dict[str, Any]:
    events = EventLog()
    events.emit("process_start", t=process_start)
    # Everything that can be rejected is checked before anything is written or imported.
    config.validate()
    if config.threads > available_cpus():
        raise WorkloadInputError(
            f"--threads {config.threads} exceeds the {available_cpus()} CPUs this process may use"
        )
    spec = model_spec(config.model)
    manifest = check_dataset(config.data)
    manifest.check_limits(config.limit_train, config.limit_test, config.batch_size)
    name = framework_name()
    config = replace(config, implementation=implementation_name(name, config.implementation))
    created_out = prepare_out(config)
    threads = pin_threads(config.threads, config.device)

    events_path = config.out / "events.jsonl"
    events.open(events_path)
    try:
        fw = load_framework(name)(config)
        events.emit("imports_done")
        data = load_dataset(manifest, spec, config.limit_train, config.limit_test)
        events.emit("data_loaded", train_count=len(data.y_train), test_count=len(data.y_test))

        settings = fw.setup()
        weights = spec.shared_weights(config.seed) if config.init == "shared" else None
        parameter_count = fw.build(weights)
        training = fw.training()
        model_built = events.emit("model_built", parameter_count=parameter_count)
        if parameter_count != spec.parameter_count:
            raise RuntimeError(
                f"{name} built {parameter_count} parameters for {spec.name}, "
                f"not {spec.parameter_count}"
            )
        # Its own phase, right after model_built: the copy neither hides in the first step
        # (compile) and epoch 1 nor repeats in every epoch.
        fw.to_device(data.x_train, data.y_train)
        data_on_device = events.emit("data_on_device")
        probe = fw.logits(data.x_test[:PROBE_SIZE])

        epochs = []
        n = len(data.y_train)
        for epoch in range(1, config.epochs + 1):
            order = epoch_order(config.seed, epoch, n)
            start = events.emit("epoch_start", epoch=epoch)
            cpu_start = time.process_time()
            loss = fw.train_epoch(order, _first_step_callback(events, epoch))
            cpu_s = time.process_time() - cpu_start
            end = events.emit("epoch_end", epoch=epoch, mean_loss=loss)
            # CPU time of every thread of the process: on a shared machine an epoch that
            # took longer with the same CPU time waited for a CPU, it did not do more work.
            epochs.append(
                {"epoch": epoch, "mean_loss": loss, "duration_s": end - start, "cpu_s": cpu_s}
            )

        eval_start = events.emit("eval_start")
        test_loss, accuracy = fw.evaluate(data.x_test, data.y_test)
        eval_end = events.emit("eval_end", test_accuracy=accuracy)
        done = events.emit("done")
    except WorkloadInputError:
        # Rejected input (e.g. --device gpu with no GPU) leaves no trace in --out.
        events.close()
        events_path.unlink(missing_ok=True)
        if created_out and not any(config.out.iterdir()):
            config.out.rmdir()
        raise
    finally:
        events.close()

    first_step_end = events.first("first_step_end", epoch=1)
    epoch1_start = events.first("epoch_start", epoch=1)
    versions = fw.versions()
    result = {
        "framework": name,
        "framework_version": versions[name],
        "implementation": config.implementation,
        "versions": {**base_versions(), **versions},
        "device": {"requested": config.device, **settings.device()},
        "threads": {**threads, **settings.threads()},
        "numerics": settings.numerics,
        "config": config.record(),
        "parameter_count": parameter_count,
        **training.record(),
        "dataset": {
            "name": data.name,
            "sha256": data.sha256,
            "train_count": n,
            "test_count": len(data.y_test),
        },
        "identical_work": {
            "initial_weights_sha256": weights.sha256() if weights is not None else None,
            "batch_order_sha256": orders_sha256(config.seed, config.epochs, n),
            "probe_logits": np.round(probe.astype(np.float64), 6).tolist(),
        },
        "epochs": epochs,
        "test_accuracy": accuracy,
        "test_loss": test_loss,
        "peak_rss_bytes": peak_rss_bytes(),
        "phases": {
            "startup_s": model_built - process_start,
            "data_to_device_s": data_on_device - model_built,
            # The first step includes tracing and compilation where the framework compiles.
            "compile_s": (
                first_step_end - epoch1_start
                if first_step_end is not None and epoch1_start is not None
                else None
            ),
            "train_s": sum(e["duration_s"] for e in epochs),
            "eval_s": eval_end - eval_start,
            "total_s": done - process_start,
        },
        "started_at": process_start,
        "ended_at": done,
    }
    write_result(config.out, result)
    return result
