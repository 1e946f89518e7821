"""One run of a task (`train`, `infer`): the phases of docs/formats.md, in order, around a
Framework. `_Run` holds what every task does the same way (validation before anything is
written, the out folder, events, thread pinning, loading the data, building the model, the
result's common keys); `train` and `infer` add only their own phases and keys."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Generic, TypeVar

import numpy as np

from workload.batches import batch_slices, epoch_order, orders_sha256
from workload.config import InferConfig, RunConfig, TrainConfig, available_cpus
from workload.data import Dataset, check_dataset, load_dataset
from workload.errors import WorkloadInputError
from workload.events import EventLog
from workload.framework import Framework, Setup, framework_name, implementation_name, load_framework
from workload.inference import loss_and_accuracy, summarize
from workload.models import PROBE_SIZE, ModelSpec, model_spec
from workload.result import base_versions, peak_rss_bytes, write_result
from workload.threads import pin_threads
from workload.weights import Weights, load_weights

C = TypeVar("C", bound=RunConfig)


def prepare_out(config: RunConfig) -> bool:
    """Create --out if needed; True when this run created it."""
    out = config.out
    if out.exists() and not out.is_dir():
        raise WorkloadInputError(f"--out {out} exists and is not a folder")
    if (out / "result.json").exists():
        raise WorkloadInputError(f"--out {out} already holds a result.json; choose an empty folder")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    return created


class _Run(Generic[C]):
    """A run from its first event to its result: checks everything that can be rejected
    before anything is written or the framework imported (the constructor), then records."""

    def __init__(self, config: C, process_start: float) -> None:
        self.process_start = process_start
        self.events = EventLog()
        self.events.emit("process_start", t=process_start)
        config.validate()
        if config.threads > available_cpus():
            raise WorkloadInputError(
                f"--threads {config.threads} exceeds the {available_cpus()} CPUs this process "
                "may use"
            )
        self.spec: ModelSpec = model_spec(config.model)
        self.manifest = check_dataset(config.data)
        config.check_data(self.manifest)
        self.name = framework_name()
        self.config: C = replace(
            config, implementation=implementation_name(self.name, config.implementation)
        )

    @contextmanager
    def recording(self) -> Iterator[None]:
        """The out folder and the event log, open while the run works. Rejected input found
        on the way (e.g. --device gpu with no GPU) leaves no trace in --out."""
        created_out = prepare_out(self.config)
        self.threads = pin_threads(self.config.threads, self.config.device)
        events_path = self.config.out / "events.jsonl"
        self.events.open(events_path)
        try:
            yield
        except WorkloadInputError:
            self.events.close()
            events_path.unlink(missing_ok=True)
            if created_out and not any(self.config.out.iterdir()):
                self.config.out.rmdir()
            raise
        finally:
            self.events.close()

    def load(self, limit_train: int | None) -> tuple[Framework, Dataset, Setup]:
        """The framework imported and set up, the data in memory."""
        fw = load_framework(self.name)(self.config)
        self.events.emit("imports_done")
        data = load_dataset(self.manifest, self.spec, limit_train, self.config.limit_test)
        self.events.emit("data_loaded", train_count=len(data.y_train), test_count=len(data.y_test))
        return fw, data, fw.setup()

    def built(self, parameter_count: int) -> float:
        model_built = self.events.emit("model_built", parameter_count=parameter_count)
        if parameter_count != self.spec.parameter_count:
            raise RuntimeError(
                f"{self.name} built {parameter_count} parameters for {self.spec.name}, "
                f"not {self.spec.parameter_count}"
            )
        return model_built

    def shared_weights(self) -> Weights | None:
        """--init's weights: the model's shared ones for --seed, or None for native init."""
        return self.spec.shared_weights(self.config.seed) if self.config.init == "shared" else None

    def result(
        self,
        fw: Framework,
        settings: Setup,
        parameter_count: int,
        phases: dict[str, float | None],
        **task: Any,
    ) -> dict[str, Any]:
        """result.json: the keys common to every task around the task's own, written."""
        versions = fw.versions()
        done = self.events.first("done")
        assert done is not None, "a result is written after the `done` event"
        result = {
            "task": self.config.task,
            "model": self.spec.name,
            "framework": self.name,
            "framework_version": versions[self.name],
            "implementation": self.config.implementation,
            "versions": {**base_versions(), **versions},
            "device": {"requested": self.config.device, **settings.device()},
            "threads": {**self.threads, **settings.threads()},
            "numerics": settings.numerics,
            "input_pipeline": fw.input_pipeline(),
            "config": self.config.record(),
            "parameter_count": parameter_count,
            **task,
            "peak_rss_bytes": peak_rss_bytes(),
            "phases": {**phases, "total_s": done - self.process_start},
            "started_at": self.process_start,
            "ended_at": done,
        }
        write_result(self.config.out, result)
        return result


def _first_step_callback(events: EventLog, epoch: int) -> Callable[[], object]:
    if epoch != 1:
        return lambda: None
    return lambda: events.emit("first_step_end", epoch=1)


def _probe(logits: np.ndarray) -> list[list[float]]:
    return np.round(logits.astype(np.float64), 6).tolist()


def train(config: TrainConfig, process_start: float) -> dict[str, Any]:
    run = _Run(config, process_start)
    config = run.config
    with run.recording():
        events = run.events
        fw, data, settings = run.load(config.limit_train)
        weights = run.shared_weights()
        parameter_count = fw.build(weights)
        training = fw.training()
        model_settings = fw.model_settings()
        model_built = run.built(parameter_count)
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
        if config.save_weights is not None:
            fw.weights().save(config.save_weights)
        events.emit("done")

    first_step_end = events.first("first_step_end", epoch=1)
    epoch1_start = events.first("epoch_start", epoch=1)
    return run.result(
        fw,
        settings,
        parameter_count,
        **training.record(),
        model_settings=model_settings,
        dataset={
            "name": data.name,
            "sha256": data.sha256,
            "train_count": n,
            "test_count": len(data.y_test),
        },
        identical_work={
            "initial_weights_sha256": weights.sha256() if weights is not None else None,
            "batch_order_sha256": orders_sha256(config.seed, config.epochs, n),
            "probe_logits": _probe(probe),
        },
        epochs=epochs,
        test_accuracy=accuracy,
        test_loss=test_loss,
        phases={
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
        },
    )


def _inference_weights(run: _Run[InferConfig]) -> tuple[Weights | None, str]:
    """The weights --weights or --init chose, and their source; a file is checked against
    the model before anything is written."""
    path = run.config.weights
    if path is None:
        return run.shared_weights(), run.config.init
    return load_weights(path, run.spec.layout()), "file"


def infer(config: InferConfig, process_start: float) -> dict[str, Any]:
    run = _Run(config, process_start)
    config = run.config
    weights, source = _inference_weights(run)
    with run.recording():
        events = run.events
        # No training split: inference reads the test set only.
        fw, data, settings = run.load(limit_train=0)
        slices = batch_slices(len(data.y_test), config.batch_size)
        parameter_count = fw.build_inference(weights)
        model_settings = fw.model_settings()
        model_built = run.built(parameter_count)
        fw.inference_to_device([data.x_test[s] for s in slices])
        data_on_device = events.emit("data_on_device")

        infer_start = events.emit("infer_start", batches=len(slices))
        outputs, latencies_s = [], []
        steady_start = 0.0
        for index in range(len(slices)):
            start = time.perf_counter()
            outputs.append(fw.infer_batch(index))
            end = time.perf_counter()
            latencies_s.append(end - start)
            if index == 0:
                first_batch_end = events.emit("first_batch_end")
                steady_start = time.perf_counter()
        steady_wall_s = time.perf_counter() - steady_start
        infer_end = events.emit("infer_end")
        logits = np.concatenate(outputs)
        test_loss, accuracy = loss_and_accuracy(logits, data.y_test)
        used = weights if weights is not None else fw.weights()
        events.emit("done")

    return run.result(
        fw,
        settings,
        parameter_count,
        model_settings=model_settings,
        dataset={"name": data.name, "sha256": data.sha256, "test_count": len(data.y_test)},
        inference=summarize(latencies_s, [s.stop - s.start for s in slices], steady_wall_s),
        weights={"source": source, "sha256": used.sha256()},
        identical_work={
            # Native init is each framework's own: no shared evidence to compare.
            "initial_weights_sha256": weights.sha256() if weights is not None else None,
            "batch_order_sha256": None,
            "probe_logits": _probe(logits[:PROBE_SIZE]),
            "logits_sha256": None,
        },
        test_accuracy=accuracy,
        test_loss=test_loss,
        phases={
            "startup_s": model_built - process_start,
            "data_to_device_s": data_on_device - model_built,
            # The first batch includes tracing and compilation where the framework compiles.
            "compile_s": first_batch_end - infer_start,
            "infer_s": infer_end - infer_start,
        },
    )
