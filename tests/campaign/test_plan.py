"""The plan: seeded order, profiles, and every check made before anything is written."""

from __future__ import annotations

import os

import pytest

from orchestrator.campaign.plan import (
    PROFILES,
    PlanError,
    check_resume_options,
    make_plan,
    resolve_options,
    settings_from_options,
    shuffled_order,
)

FW = ("keras", "torch", "jax")


def test_same_seed_same_order_and_each_row_is_a_permutation() -> None:
    a = shuffled_order(FW, 35, seed=7)
    assert a == shuffled_order(FW, 35, seed=7)
    assert all(sorted(row) == sorted(FW) for row in a)
    # 35 shuffles of 3 items: every framework leads some iteration.
    assert {row[0] for row in a} == set(FW)


def test_different_seeds_give_different_orders() -> None:
    assert shuffled_order(FW, 35, seed=0) != shuffled_order(FW, 35, seed=1)


def test_runs_are_numbered_by_iteration_and_position() -> None:
    plan = make_plan(FW, 2, seed=3)
    runs = plan.runs()
    assert [r.run_id for r in runs[:3]] == [
        f"001-{i}-{fw}" for i, fw in enumerate(plan.order[0], 1)
    ]
    assert len(runs) == 6 and runs[-1].iteration == 2


def test_paper_profile_is_the_reference_study() -> None:
    s = settings_from_options({}, "paper")
    assert s.plan.iterations == 35
    assert (s.workload.epochs, s.workload.batch_size) == (3, 64)
    assert (s.protocol.warmup_s, s.protocol.idle_s) == (300, 60)
    assert s.workload.limit_train is None and s.workload.model == "mnist-cnn"
    assert resolve_options({}, "paper")["dataset"] == "mnist"  # the reference CNN's first


def test_explicit_options_override_the_profile() -> None:
    s = settings_from_options({"iterations": 4, "idle_s": 2.0, "limit_train": None}, "quick")
    assert s.plan.iterations == 4 and s.protocol.idle_s == 2.0
    assert s.workload.limit_train == PROFILES["quick"]["limit_train"]  # None means "not given"


def test_workload_flags_pass_through_unchanged() -> None:
    threads = len(os.sched_getaffinity(0))  # at most the CPUs there are
    s = settings_from_options({"epochs": 2, "batch_size": 32, "limit_train": 100,
                               "threads": threads, "device": "cpu", "seed": 5}, None)  # fmt: skip
    args = s.workload.args()
    pairs = dict(zip(args[::2], args[1::2], strict=True))
    assert pairs["--epochs"] == "2" and pairs["--batch-size"] == "32"
    assert pairs["--limit-train"] == "100" and pairs["--threads"] == str(threads)
    assert pairs["--seed"] == "5" and "--limit-test" not in pairs


def test_threads_default_to_the_cpuset() -> None:
    cpus = sorted(os.sched_getaffinity(0))
    s = settings_from_options({"cpuset": str(cpus[0])}, None)
    assert s.workload.threads == 1 and s.protocol.cpuset == str(cpus[0])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"frameworks": "keras,tensorflow"}, "unknown framework tensorflow"),
        ({"frameworks": "torch,torch"}, "listed twice"),
        ({"iterations": 0}, "--iterations must be from 1 to 10000"),
        ({"epochs": -1}, "--epochs must be from 1 to 1000"),
        ({"warmup_s": -5.0}, "--warmup must be from 0 to 86400 seconds"),
        ({"run_timeout_s": 0.0}, "--run-timeout"),
        ({"device": "tpu"}, "--device must be cpu or gpu"),
        ({"memory_limit": "lots"}, "--memory-limit"),
        ({"cpuset": "4096"}, "--cpuset"),
        ({"cpuset": "a-b"}, "--cpuset"),
    ],
)
def test_bad_options_are_refused_with_one_line(options: dict, message: str) -> None:
    with pytest.raises(PlanError) as exc:
        settings_from_options(options, None)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(PlanError, match="unknown profile 'fast'"):
        settings_from_options({}, "fast")


def test_resume_refuses_plan_options() -> None:
    check_resume_options({"iterations": None, "profile": None})
    with pytest.raises(PlanError, match="drop --iterations, --warmup"):
        check_resume_options({"iterations": 3, "warmup_s": 1.0, "profile": None})
