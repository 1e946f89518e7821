"""The energy-domain kinds, defined once: how each meter names what it measured, and which
domains a run's total may add. Every meter mints its names here; run.json carries the
verdict per domain (`summable`), so no reader has to guess it from a name.

A domain is *summable* when it measures energy that no other summable domain also counts:
CPU packages (or their dies), DRAM and GPUs. Cores and uncore sit inside their package, and
psys is the platform's own total, which contains the packages: adding either to the
packages would count the same joules twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class DomainKind:
    kind: str
    pattern: str  # what the names of this kind look like (docs/formats.md)
    summable: bool
    nested_in: str | None  # the kind whose energy already contains this one's
    meaning: str

    @property
    def regex(self) -> re.Pattern[str]:
        # <P>, <D>, <N> are decimal numbers; [...] is optional.
        body = re.escape(self.pattern).replace(r"\[", "(?:").replace(r"\]", ")?")
        for token in ("<P>", "<D>", "<N>"):
            body = body.replace(re.escape(token), r"\d+")
        return re.compile(f"^{body}$")


KINDS: tuple[DomainKind, ...] = (
    DomainKind(
        "cpu-package",
        "cpu-package-<P>[-die-<D>]",
        True,
        None,
        "a CPU socket (or one die of a multi-die socket, as the kernel names it)",
    ),
    DomainKind(
        "cpu-core", "cpu-core-<P>[-die-<D>]", False, "cpu-package", "the cores of that package"
    ),
    DomainKind(
        "cpu-uncore",
        "cpu-uncore-<P>[-die-<D>]",
        False,
        "cpu-package",
        "the package's uncore (the integrated GPU on client parts)",
    ),
    DomainKind("dram", "dram-<P>[-die-<D>]", True, None, "the memory attached to that socket"),
    DomainKind(
        "psys",
        "psys[-<N>]",
        False,
        "platform",
        "the whole platform (SoC, packages included): a total of its own, never added",
    ),
    DomainKind("gpu", "gpu-<N>", True, None, "one GPU, by its NVML index"),
    DomainKind(
        "machine",
        "machine",
        False,
        "the wall",
        "the whole machine at the wall, from its BMC: a total of its own, never added",
    ),
)
_BY_KIND = {k.kind: k for k in KINDS}


def _suffix(socket: int, die: int | None) -> str:
    return f"{socket}" if die is None else f"{socket}-die-{die}"


def package(socket: int, die: int | None = None) -> str:
    return f"cpu-package-{_suffix(socket, die)}"


def core(socket: int, die: int | None = None) -> str:
    return f"cpu-core-{_suffix(socket, die)}"


def uncore(socket: int, die: int | None = None) -> str:
    return f"cpu-uncore-{_suffix(socket, die)}"


def dram(socket: int, die: int | None = None) -> str:
    return f"dram-{_suffix(socket, die)}"


def psys(index: int | None = None) -> str:
    return "psys" if index is None else f"psys-{index}"


def gpu(index: int) -> str:
    return f"gpu-{index}"


def machine() -> str:
    return "machine"


def kind_of(domain: str) -> DomainKind:
    """The kind of a domain name; ValueError for a name no meter may mint."""
    for k in KINDS:
        if k.regex.match(domain):
            return k
    raise ValueError(f"{domain!r} is not a known energy domain ({', '.join(_BY_KIND)})")


def is_summable(domain: str) -> bool:
    """Whether a total may add this domain (docs/formats.md, "Domain names")."""
    return kind_of(domain).summable


def is_cpu(domain: str) -> bool:
    return kind_of(domain).kind not in ("gpu", "machine")
