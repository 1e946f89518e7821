"""The registry of framework variants: which exist, and which image and local environment
each one runs in. The CLI, the plan, the build, doctor, the runtimes and the tests read it;
compose.yaml, the Makefile and the images' own list are pinned to it by contract tests.

A variant is named FRAMEWORK[@VERSION][:IMPLEMENTATION] (docs/adding.md): `torch`,
`torch:compile`, `keras@2.18`. No suffix means the framework's default implementation at its
default pinned version, so the plain names keep their meaning. Adding a variant is one entry
in VARIANTS (and the image folder or implementation it names).
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
        """The folder under images/ with its Dockerfile and pinned requirements, which is
        also the image's repository name. Versions get their own folder (named so that it
        is a valid Docker repository name: no `@`)."""
        return f"{self.framework}-{self.version}" if self.version else self.framework

    @property
    def environment(self) -> str:
        """The local environment under .venvs/ (the image's packages, installed locally)."""
        return self.image


VARIANTS: tuple[Variant, ...] = (
    Variant("keras"),
    Variant("torch"),
    Variant("jax"),
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
            f"choose from {', '.join(REGISTRY)} (comma-separated)"
        )
    if len(set(names)) != len(names):
        raise VariantError(f"framework listed twice in {text!r}; name each once")
    return names
