"""The registry of framework variants is the one list: the Makefile, compose.yaml and the
images' own list (across the container boundary, which cannot import the host) are pinned
to it here."""

from __future__ import annotations

import re

import pytest
import workload

from orchestrator.paths import requirements_file
from orchestrator.runtimes.variants import (
    DEFAULT_IMPLEMENTATIONS,
    FRAMEWORKS,
    NAME_PATTERN,
    REGISTRY,
    VARIANTS,
    VERSIONED_PACKAGE,
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


def _has_gpu(v: Variant) -> bool:
    return requirements_file(v.requirements_folder, "gpu").exists()


def test_compose_has_a_cpu_and_a_gpu_service_per_image() -> None:
    compose = (REPO / "compose.yaml").read_text()
    services = compose.split("\nservices:\n", 1)[1]
    names = set(re.findall(r"^  ([a-z][a-z0-9@.-]*):$", services, re.MULTILINE))
    by_image = {v.image: v for v in VARIANTS}
    gpu = {
        i for i, v in by_image.items() if requirements_file(v.requirements_folder, "gpu").exists()
    }
    assert names == set(by_image) | {f"{i}-gpu" for i in gpu}
    built = re.findall(r"FRAMEWORK: ([a-z0-9.-]+)", services)
    expected = [by_image[i].framework for i in [*by_image, *gpu]]
    assert sorted(built) == sorted(expected)  # each service builds its own image
    for image, v in by_image.items():
        if v.version:  # its own pins, its own wheel folder
            args = re.search(
                rf"^  {re.escape(image)}:\n(?:    .*\n)*?.*args: (.*)$", services, re.M
            )
            assert args is not None, image
            assert f"REQUIREMENTS_DIR: images/{v.requirements_folder}" in args.group(1)
            assert f"WHEELS: {image}" in args.group(1)


def test_the_images_know_the_same_frameworks() -> None:
    assert set(workload.FRAMEWORKS) == {v.framework for v in VARIANTS}


def test_every_variant_has_its_requirements_and_package() -> None:
    assert (REPO / "images" / "Dockerfile").is_file()  # one for all: FRAMEWORK is an argument
    for v in VARIANTS:
        assert requirements_file(v.requirements_folder).is_file(), v.name
        assert (REPO / "images" / v.framework / f"workload_{v.framework}").is_dir(), v.name


def test_version_variants_pin_every_package_exactly() -> None:
    versions = [v for v in VARIANTS if v.version]
    assert versions, "the registry has a version variant"
    for v in versions:
        pins = [
            line
            for line in requirements_file(v.requirements_folder).read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        assert pins and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[^\s=]+", p) for p in pins), pins
        # the version it names, of the package it numbers (keras@2.18: TensorFlow 2.18)
        assert f"{VERSIONED_PACKAGE[v.framework]}=={v.version}." in "\n".join(pins)


def test_the_images_list_the_registrys_implementations() -> None:
    for framework, names in workload.IMPLEMENTATIONS.items():
        assert names[0] == DEFAULT_IMPLEMENTATIONS[framework]
        registered = {v.implementation for v in VARIANTS if v.framework == framework}
        assert registered - {None} <= set(names[1:]), framework
    assert set(workload.IMPLEMENTATIONS) == set(workload.FRAMEWORKS)


def test_the_makefile_builds_the_version_environments_the_tests_need() -> None:
    makefile = (REPO / "Makefile").read_text()
    line = re.search(r"^VERSIONS \?= (.*)$", makefile, re.MULTILINE)
    assert line is not None
    assert set(line.group(1).split()) <= {v.environment for v in VARIANTS if v.version}
    assert re.search(r"^test: .*version-venvs", makefile, re.MULTILINE)


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
