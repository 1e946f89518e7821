"""The identical-work evidence: do the frameworks' result.json files show the same model,
the same data, the same starting weights and the same batches (training), or the same
weights and the same logits (inference)? Pure: result dicts in."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.load import DEFAULT_MODEL, task_of

# What must be the same in every run of every framework for "the same work": result.json
# keys (dotted paths) and key prefixes. Every key under a prefix becomes its own check, so a
# setting the workload starts to record is checked without a change here.
CHECK_KEYS = (
    "model",
    "task",
    "parameter_count",
    # inference: the weights the logits came from (shared, native or a file) and their hash
    "weights.source",
    "weights.sha256",
    "identical_work.initial_weights_sha256",
    "identical_work.batch_order_sha256",
    "versions.python",
    # Not NumPy's version: what NumPy computes for the work (the shared initial weights, the
    # batch order) is compared by its hashes above, and a version variant may need another
    # NumPy (keras@2.18: TensorFlow 2.18 needs NumPy < 2.1).
    # computed on every training batch besides the loss: [] everywhere (Keras's "accuracy"
    # metric was work the others did not do)
    "training_metrics",
)
# `optimizer.` holds every Adam hyperparameter as the framework's optimizer object holds it,
# `loss.` the loss function, whether it takes logits, and its reduction.
# `model_settings.` the settings of the model's layers that frameworks default differently
# (BatchNorm's epsilon and momentum), as each framework's layers hold them.
CHECK_PREFIXES = (
    "dataset.",
    "config.",
    "device.",
    "threads.",
    "optimizer.",
    "loss.",
    "numerics.",
    "model_settings.",
)


@dataclass(frozen=True)
class KnownDifference:
    """A difference between frameworks that no setting removes, documented and expected: the
    check shows it and says why instead of flagging it, as long as every value seen is one
    of `values` (anything else is still flagged)."""

    values: frozenset[str]
    reason: str


KNOWN_DIFFERENCES = {
    # docs/models.md: training normalises with the biased batch variance everywhere; only the
    # running statistics used after training differ, by a factor 1 + 1/(n - 1).
    "model_settings.batchnorm.running_variance": KnownDifference(
        frozenset({"biased", "unbiased"}),
        "PyTorch updates BatchNorm's running variance with the unbiased batch variance, "
        "Keras and Flax with the biased one (docs/models.md)",
    ),
}


# Training evidence an inference run records as null (docs/formats.md): it has no batch
# order and no training; its evidence is the weights and the probe logits.
NOT_FOR_INFERENCE = ("identical_work.batch_order_sha256", "identical_work.logits_sha256")


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out |= _flatten(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def _checked(key: str) -> bool:
    return key in CHECK_KEYS or key.startswith(CHECK_PREFIXES)


@dataclass(frozen=True)
class Check:
    name: str
    values: dict[str, list[str]]  # framework -> distinct values seen in its runs
    identical: bool  # one value, the same in every framework
    known: KnownDifference | None = None  # the documented difference these values are

    @property
    def verdict(self) -> str:
        missing = [f for f, vs in self.values.items() if not vs]
        if missing:
            return "not recorded by " + ", ".join(missing)
        if self.identical:
            return "yes"
        return "documented difference" if self.known is not None else "no"

    @property
    def flagged(self) -> bool:
        """Not the same work, and not a documented difference."""
        return not self.identical and self.known is None


@dataclass(frozen=True)
class Evidence:
    frameworks: list[str]
    checks: list[Check]
    probe_max_abs_diff: dict[tuple[str, str], float]  # per framework pair
    epoch_loss_median: dict[str, list[float]]  # per framework, per epoch
    versions: dict[str, str]  # framework -> framework_version(s)
    task: str = "train"  # "infer" when every result is an inference run's

    @property
    def has_results(self) -> bool:
        return bool(self.versions)

    def differences(self, a: str, b: str) -> list[str]:
        """What A and B did differently, from the flagged checks: "config.batch_size 64 vs
        128" (hashes shortened). Empty when the pair did the same work, or when either has
        no result.json (nothing to compare: the report says that in Identical work)."""
        out = []
        for c in self.checks:
            va, vb = c.values.get(a) or [], c.values.get(b) or []
            if c.flagged and va and vb and (va != vb or len(va) > 1):
                out.append(f"{c.name} {_short_values(va)} vs {_short_values(vb)}")
        return out


def short(v: str) -> str:
    """A value as the report prints it: a hash shortened to its first 12 characters."""
    return v[:12] + "…" if len(v) > 16 else v


def _short_values(values: list[str]) -> str:
    return "/".join(short(v) for v in values)


def _get(d: Mapping[str, Any], path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(d, Mapping) or key not in d:
            return None
        d = d[key]
    return d


def gather(results_by_framework: Mapping[str, Sequence[Mapping[str, Any]]]) -> Evidence:
    fws = [f for f, rs in results_by_framework.items() if rs]
    # Results written before `task` and `model` existed trained the reference CNN.
    flat = {
        f: [
            _flatten(r) | {"task": task_of({}, r), "model": r.get("model") or DEFAULT_MODEL}
            for r in results_by_framework[f]
        ]
        for f in fws
    }
    tasks = {task_of({}, r) for f in fws for r in results_by_framework[f]}
    task = "infer" if tasks == {"infer"} else "train"
    skip = NOT_FOR_INFERENCE if task == "infer" else ()
    keys = sorted(
        {k for rs in flat.values() for r in rs for k in r if _checked(k) and k not in skip},
        key=lambda k: (k not in CHECK_KEYS, k),
    )
    checks = []
    for name in keys:
        values = {
            f: sorted({"null" if r[name] is None else str(r[name]) for r in flat[f] if name in r})
            for f in fws
        }
        distinct = {v for vs in values.values() for v in vs}
        identical = len(distinct) == 1 and all(len(vs) == 1 for vs in values.values())
        known = KNOWN_DIFFERENCES.get(name)
        if identical or known is None or not distinct <= known.values:
            known = None
        checks.append(Check(name, values, identical, known))
    # the first run's logits: they are computed before training from the shared weights
    # (inference: from the weights used), so every run of a framework gives the same ones
    probes: dict[str, np.ndarray] = {}
    for f in fws:
        for r in results_by_framework[f]:
            p = _get(r, ("identical_work", "probe_logits"))
            if p:
                probes[f] = np.asarray(p, dtype=float)
                break
    diffs = {}
    for a, b in itertools.combinations([f for f in fws if f in probes], 2):
        pa, pb = probes[a], probes[b]
        diffs[(a, b)] = float(np.max(np.abs(pa - pb))) if pa.shape == pb.shape else math.inf
    losses: dict[str, list[float]] = {}
    for f in fws:
        per_epoch: dict[int, list[float]] = {}
        for r in results_by_framework[f]:
            for ep in r.get("epochs") or []:
                if ep.get("mean_loss") is not None:
                    per_epoch.setdefault(int(ep["epoch"]), []).append(float(ep["mean_loss"]))
        losses[f] = [float(np.median(per_epoch[k])) for k in sorted(per_epoch)]
    versions = {
        f: ", ".join(sorted({str(r.get("framework_version")) for r in results_by_framework[f]}))
        for f in fws
    }
    return Evidence(fws, checks, diffs, losses, versions, task)


def config_warnings(ev: Evidence) -> list[str]:
    """One line per `config.` setting in which one framework's own runs differ: they did not
    all do the work of the campaign (a damaged or edited campaign.json, a hand-run result)."""
    out = []
    for check in ev.checks:
        if not check.name.startswith("config."):
            continue
        for fw, values in check.values.items():
            if len(values) > 1:
                out.append(
                    f"{fw}'s runs differ in {check.name} ({', '.join(values)}): they did not "
                    "all do the same work; compare only runs of one configuration"
                )
    return out
