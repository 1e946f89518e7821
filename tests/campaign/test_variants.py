"""The registry of framework variants is the one list: the Makefile, compose.yaml and the
images' own list (across the container boundary, which cannot import the host) are pinned
to it here."""

from __future__ import annotations

import re

import pytest
import workload

from orchestrator.runtimes.variants import (
    FRAMEWORKS,
    NAME_PATTERN,
    REGISTRY,
    VARIANTS,
    Variant,
    VariantError,
    parse_variants,
    variant,
)
from tests.conftest import REPO


def test_the_makefile_builds_and_installs_the_registrys_frameworks() -> None:
    makefile = (REPO / "Makefile").read_text()
    line = re.search(r"^FRAMEWORKS \?= (.*)$", makefile, re.MULTILINE)
    assert line is not None
    assert tuple(line.group(1).split()) == tuple(variant(f).environment for f in FRAMEWORKS)


def test_compose_has_a_cpu_and_a_gpu_service_per_image() -> None:
    compose = (REPO / "compose.yaml").read_text()
    services = compose.split("\nservices:\n", 1)[1]
    names = set(re.findall(r"^  ([a-z][a-z0-9@.-]*):$", services, re.MULTILINE))
    images = {v.image for v in VARIANTS}
    assert names == images | {f"{i}-gpu" for i in images}
    built = re.findall(r"FRAMEWORK: ([a-z0-9.-]+)", services)
    assert sorted(built) == sorted([*images, *images])  # each service builds its own image


def test_the_images_know_the_same_frameworks() -> None:
    assert set(workload.FRAMEWORKS) == {v.framework for v in VARIANTS}


def test_every_variant_has_its_image_folder() -> None:
    assert (REPO / "images" / "Dockerfile").is_file()  # one for all: FRAMEWORK is an argument
    for v in VARIANTS:
        folder = REPO / "images" / v.image
        assert (folder / "requirements.txt").is_file(), v.name
        assert (folder / f"workload_{v.framework}").is_dir(), v.name


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("torch", ("torch", None, None)),
        ("torch:compile", ("torch", None, "compile")),
        ("keras@2.18", ("keras", "2.18", None)),
        ("jax@0.4.30:scan", ("jax", "0.4.30", "scan")),
    ],
)
def test_variant_names_follow_the_contract(name: str, parts: tuple[str | None, ...]) -> None:
    m = NAME_PATTERN.match(name)
    assert m is not None
    assert (m["framework"], m["version"], m["implementation"]) == parts
    assert Variant(*parts).name == name  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["../torch", "torch/x", "Torch", "torch@", "torch:", ""])
def test_names_that_could_be_paths_are_not_variant_names(name: str) -> None:
    assert NAME_PATTERN.match(name) is None
    with pytest.raises(VariantError):
        variant(name)


def test_defaults_are_the_plain_names_and_lists_are_checked() -> None:
    assert FRAMEWORKS == ("keras", "torch", "jax")
    assert all(REGISTRY[f].name == f for f in FRAMEWORKS)
    assert parse_variants(" torch , jax ") == ("torch", "jax")
    with pytest.raises(VariantError, match="listed twice"):
        parse_variants("torch,torch")
    with pytest.raises(VariantError, match="unknown framework tensorflow"):
        parse_variants("tensorflow")
