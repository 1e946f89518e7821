"""What a refusal looks like from outside: exit 2 and one line that starts `error: `."""

from __future__ import annotations

import subprocess


def assert_refused(r: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for text in expected:
        assert text in lines[0], lines[0]
