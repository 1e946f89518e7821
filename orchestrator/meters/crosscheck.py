"""Cross-checks: where two readings of the same scope exist in one window, both and their
agreement, judged against their uncertainty budgets (docs/meters.md, "Cross-checks").

* NVML's energy counter against its own polled power, integrated;
* RAPL `psys` against the packages plus DRAM it contains (more inside than the whole is
  impossible);
* RAPL powercap against EnergiBridge, when both run (`--meter rapl,energibridge`);
* the whole machine (a BMC: `redfish` or `ipmi`) against the components metered: the
  share of the machine's energy the CPU and GPU meters saw (more is impossible).

Two readings agree when they differ by at most K times the combined standard uncertainty
of the pair (about 95% for normal errors); a check that fails is also said in the notes.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from orchestrator.meters import domains
from orchestrator.meters.base import DomainSeries, Recording
from orchestrator.meters.uncertainty import budget

K = 2.0  # coverage factor of the agreement test
_INSIDE_PSYS = re.compile(r"^(cpu-package|dram)-\d+(-die-\d+)?$")


def _energy(series: DomainSeries, span: tuple[float, float]) -> float | None:
    t = series.time_s
    if len(t) < 2 or not t[0] <= span[0] <= span[1] <= t[-1]:
        return None
    e0, e1 = np.interp(span, t, series.energy_j)
    return float(e1 - e0)


def _u(meter: str, series: DomainSeries, span: tuple[float, float], energy: float) -> float:
    b = budget(meter, series, span, energy)
    return 0.0 if b is None else b.u_j


def _pair(what: str, a: tuple[str, DomainSeries], b: tuple[str, DomainSeries],
          span: tuple[float, float]) -> dict[str, Any] | None:  # fmt: skip
    ea, eb = _energy(a[1], span), _energy(b[1], span)
    if ea is None or eb is None:
        return None
    u = math.hypot(_u(a[0], a[1], span, ea), _u(b[0], b[1], span, eb))
    return {
        "check": what,
        "a": a[0] + ":" + a[1].method,
        "b": b[0] + ":" + b[1].method,
        "a_j": ea,
        "b_j": eb,
        "ratio": eb / ea if ea else None,
        "u_j": u,
        "agree": abs(eb - ea) <= K * u,
    }


def cross_checks(recordings: list[Recording], span: tuple[float, float]) -> list[dict[str, Any]]:
    """Every check the recordings allow over `span`, in a stable order."""
    out: list[dict[str, Any]] = []
    primary = {
        (rec.meter, d): s for rec in recordings if rec.checks is None for d, s in rec.series.items()
    }
    for rec in recordings:
        for domain, alt in sorted(rec.alternates.items()):
            main = rec.series.get(domain)
            if main is not None:
                c = _pair(f"{domain}: counter vs polled power", (rec.meter, main),
                          (rec.meter, alt), span)  # fmt: skip
                out += [c] if c else []
        if rec.checks is not None:
            for domain, s in sorted(rec.series.items()):
                main = primary.get((rec.checks, domain))
                if main is not None:
                    c = _pair(f"{domain}: {rec.checks} vs {rec.meter}", (rec.checks, main),
                              (rec.meter, s), span)  # fmt: skip
                    out += [c] if c else []
        if rec.checks is None:
            out += _psys(rec, span)
    return out + _machine(recordings, span)


def _machine(recordings: list[Recording], span: tuple[float, float]) -> list[dict[str, Any]]:
    """The share of the machine's energy (its BMC) that the component meters saw: their
    summable domains (packages, DRAM, GPUs) against `machine`; more is impossible."""
    wall = [(r.meter, s) for r in recordings for d, s in r.series.items() if d == "machine"]
    parts = [
        (r.meter, d, s)
        for r in recordings
        if r.checks is None
        for d, s in r.series.items()
        if d != "machine" and domains.is_summable(d) and s.out_of_total is None
    ]
    if len(wall) != 1 or not parts:
        return []
    meter, whole = wall[0]
    e_whole = _energy(whole, span)
    energies = [(m, s, _energy(s, span)) for m, _, s in parts]
    if e_whole is None or any(e is None for _, _, e in energies):
        return []
    e_parts = sum(e for _, _, e in energies if e is not None)
    u = math.sqrt(
        _u(meter, whole, span, e_whole) ** 2
        + sum(_u(m, s, span, e) ** 2 for m, s, e in energies if e is not None)
    )
    return [
        {
            "check": "machine >= the components metered (share seen)",
            "a": f"{meter}:machine",
            "b": "+".join(f"{m}:{d}" for m, d, _ in parts),
            "a_j": e_whole,
            "b_j": e_parts,
            "ratio": e_parts / e_whole if e_whole else None,
            "u_j": u,
            "agree": e_parts - e_whole <= K * u,
        }
    ]


def _psys(rec: Recording, span: tuple[float, float]) -> list[dict[str, Any]]:
    psys = [(d, s) for d, s in rec.series.items() if d == "psys" or d.startswith("psys-")]
    inside = [(d, s) for d, s in rec.series.items() if _INSIDE_PSYS.match(d)]
    if len(psys) != 1 or not inside:
        return []  # several platforms: which packages each holds is not said
    (_, whole), parts = psys[0], []
    for _, s in inside:
        e = _energy(s, span)
        if e is None:
            return []
        parts.append((s, e))
    e_whole = _energy(whole, span)
    if e_whole is None:
        return []
    e_parts = sum(e for _, e in parts)
    u = math.sqrt(
        _u(rec.meter, whole, span, e_whole) ** 2
        + sum(_u(rec.meter, s, span, e) ** 2 for s, e in parts)
    )
    return [
        {
            "check": "psys >= packages + dram",
            "a": f"{rec.meter}:psys",
            "b": f"{rec.meter}:" + "+".join(sorted(d for d, _ in inside)),
            "a_j": e_whole,
            "b_j": e_parts,
            "ratio": e_parts / e_whole if e_whole else None,
            "u_j": u,
            # Packages and DRAM are inside the platform: more than it is impossible.
            "agree": e_parts - e_whole <= K * u,
        }
    ]


def disagreements(checks: list[dict[str, Any]]) -> list[str]:
    """One note per failed check."""
    return [
        f"cross-check failed: {c['check']}: {c['a']} {c['a_j']:.3f} J, {c['b']} "
        f"{c['b_j']:.3f} J (beyond {K:g} x their {c['u_j']:.3f} J uncertainty)"
        for c in checks
        if not c["agree"]
    ]
