"""The registry of framework variants: which exist, and which image and local environment
each one runs in. The CLI, the plan, the build, doctor, the runtimes and the tests read it;
compose.yaml, the Makefile and the images' own list are pinned to it by contract tests.

A variant is named FRAMEWORK[@VERSION][:IMPLEMENTATION] (docs/adding.md): `torch`,
`torch:compile`, `keras@2.18`. No suffix means the framework's default implementation at its
default pinned version, so the plain names keep their meaning. Adding a variant is one entry
in VARIANTS (and the requirements folder or implementation it names).

An implementation runs in its framework's image and environment with `--implementation`; a
version has its own pinned requirements, images/<framework>/versions/<version>/, its own
image (fwenergy/<framework>-<version>) and environment (.venvs/<framework>-<version>), and
runs the framework's package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.errors import UserError

NAME_PATTERN = re.compile(
    r"^(?P<framework>[a-z][a-z0-9]*)"
    r"(?:@(?P<version>[0-9][0-9a-z.]*))?"
    r"(?::(?P<implementation>[a-z][a-z0-9-]*))?$"
)


class VariantError(UserError):
    """A framework or variant name that the registry does not know."""


@dataclass(frozen=True)
class Variant:
    framework: str  # keras, torch, jax: the workload's WORKLOAD_FRAMEWORK
    version: str | None = None  # None: the default pinned version
    implementation: str | None = None  # None: the default implementation

    @property
    def name(self) -> str:
        version = f"@{self.version}" if self.version else ""
        implementation = f":{self.implementation}" if self.implementation else ""
        return f"{self.framework}{version}{implementation}"

    @property
    def image(self) -> str:
        """The image's repository name (fwenergy/<image>), which is also its wheel folder
        under .wheelhouse/: a valid Docker repository name, so a version is `-`, not `@`."""
        return f"{self.framework}-{self.version}" if self.version else self.framework

    @property
    def environment(self) -> str:
        """The local environment under .venvs/ (the image's packages, installed locally)."""
        return self.image

    @property
    def requirements_folder(self) -> str:
        """The folder under images/ with the pinned requirements: the framework's own, or
        its version's (the Makefile's `requirements_of` computes the same)."""
        return f"{self.framework}/versions/{self.version}" if self.version else self.framework

    @property
    def implementation_name(self) -> str:
        """The implementation the workload runs (its default when the name has none)."""
        return self.implementation or DEFAULT_IMPLEMENTATIONS[self.framework]

    def record(self) -> dict[str, str]:
        """run.json's `variant`: the name and its parts, defaults filled in."""
        return {
            "name": self.name,
            "framework": self.framework,
            "version": self.version or "default",
            "implementation": self.implementation_name,
        }

    def workload_args(self) -> tuple[str, ...]:
        """What `python -m workload train` gets beyond the campaign's settings: nothing for
        the default implementation, so images built before implementations existed run."""
        return ("--implementation", self.implementation) if self.implementation else ()


# The package a variant's version numbers: `keras@2.18` is Keras on TensorFlow 2.18 (the
# reference study's naming; its Keras 3 is whichever release matches), the others their own.
VERSIONED_PACKAGE = {"keras": "tensorflow", "torch": "torch", "jax": "jax"}

# Each framework's default implementation (the workload's IMPLEMENTATIONS lists them first).
DEFAULT_IMPLEMENTATIONS = {"keras": "auto", "torch": "eager", "jax": "step"}

VARIANTS: tuple[Variant, ...] = (
    Variant("keras"),
    Variant("keras", implementation="xla"),  # jit_compile=True
    Variant("keras", implementation="no-xla"),  # jit_compile=False
    # The reference study's TensorFlow (2.18, with the Keras 3 of its time).
    Variant("keras", version="2.18"),
    Variant("torch"),
    Variant("torch", implementation="compile"),  # torch.compile of the training step
    Variant("jax"),
    Variant("jax", implementation="scan"),  # the epoch as one jitted lax.scan
    # The reference study's JAX (0.5.x, with the Flax and Optax of its time).
    Variant("jax", version="0.5"),
    Variant("jax", version="0.5", implementation="scan"),
)
REGISTRY: dict[str, Variant] = {v.name: v for v in VARIANTS}
# The frameworks at their defaults: what a campaign compares unless told otherwise.
FRAMEWORKS: tuple[str, ...] = tuple(v.name for v in VARIANTS if v.name == v.framework)


def variant(name: str) -> Variant:
    """The registered variant `name`; VariantError (one line, the choices) otherwise."""
    found = REGISTRY.get(name)
    if found is None:
        raise VariantError(f"unknown framework {name!r}; choose from {', '.join(REGISTRY)}")
    return found


def parse_variants(text: str) -> tuple[str, ...]:
    """A comma-separated list of variant names, each known and named once."""
    names = tuple(n.strip().lower() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in REGISTRY]
    if unknown or not names:
        raise VariantError(
            f"unknown framework {', '.join(unknown) or repr(text)}; "
            f"choose from {', '.join(REGISTRY)} "
            "(comma-separated, each FRAMEWORK[@VERSION][:IMPLEMENTATION])"
        )
    if len(set(names)) != len(names):
        raise VariantError(f"framework listed twice in {text!r}; name each once")
    return names
