"""EnergiBridge (the seeds' tool), run as an external binary whose CSV we parse.

EnergiBridge must spawn the command it measures and stops when that child exits. To fit
start()/stop(), it is given a placeholder child that lives until stop() closes its stdin;
the measured command runs beside it, so EnergiBridge samples the whole machine exactly
over our window.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, NoReturn

from orchestrator.errors import MeterError
from orchestrator.meters.base import Meter, Recording
from orchestrator.meters.energibridge_csv import energibridge_series, parse_energibridge_csv
from orchestrator.meters.sampler import RecordingBuilder

INSTALL_HINT = (
    "install EnergiBridge v0.0.7 (https://github.com/tdurieux/EnergiBridge/releases) "
    "and put it on PATH, or pass --energibridge PATH"
)
MSR_FIX = (
    "EnergiBridge cannot read the CPU's energy MSRs (/dev/cpu/*/msr): load the msr module "
    "(`sudo modprobe msr`) and run as root, or give the binary `sudo setcap cap_sys_rawio=ep` "
    "and read access to /dev/cpu/*/msr (or use --meter rapl, which reads powercap instead)"
)
# The child: signals it runs (the ready file), then blocks until its stdin is closed.
_PLACEHOLDER = "import sys; open(sys.argv[1], 'w').close(); sys.stdin.read()"
START_TIMEOUT_S = 20.0


def find_energibridge(path: Path | None) -> Path:
    """The binary: `path` if given, else `energibridge` on PATH; MeterError if neither."""
    if path is not None:
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise MeterError(f"EnergiBridge binary {path} is not an executable file; {INSTALL_HINT}")
    found = shutil.which("energibridge")
    if found is None:
        raise MeterError(f"EnergiBridge is not on PATH; {INSTALL_HINT}")
    return Path(found)


class EnergiBridgeMeter(Meter):
    name = "energibridge"

    def __init__(
        self,
        interval_ms: int = 100,
        *,
        binary: Path | None = None,
        gpu: bool = True,
        client_cpu: bool = False,
        checks: str | None = None,
    ) -> None:
        """`client_cpu`: the CPU is a client part, so EnergiBridge's DRAM is in the right
        unit and may enter the total (docs/meters.md)."""
        super().__init__(interval_ms)
        self.binary = find_energibridge(binary)
        self.gpu = gpu
        self.client_cpu = client_cpu
        self.checks = checks  # the meter whose domains this one only cross-checks
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._out_dir: Path | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def domains(self) -> list[str]:
        # Its columns depend on the CPU vendor and are only known from a run's CSV.
        return []

    @property
    def csv_path(self) -> Path:
        assert self._out_dir is not None
        return self._out_dir / f"samples-{self.name}.csv"

    def start(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self._out_dir = out_dir
        self._tmp = tempfile.TemporaryDirectory(prefix="fwenergy-eb-")
        ready = Path(self._tmp.name) / "ready"
        self._stderr = (Path(self._tmp.name) / "stderr").open("w+b")
        cmd = [str(self.binary), "-o", str(self.csv_path), "-i", str(self.interval_ms)]
        if self.gpu:
            cmd.append("-g")
        cmd += ["--", sys.executable, "-I", "-S", "-c", _PLACEHOLDER, str(ready)]
        try:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr
            )
        except OSError as exc:
            raise MeterError(f"cannot run {self.binary}: {exc.strerror or exc}") from exc
        # The window opens once EnergiBridge has spawned the child and written its first
        # sample: only then is the measured command covered from its start.
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (ready.exists() and _has_data_row(self.csv_path)):
            if self._proc.poll() is not None:
                self._fail("exited before its first sample")
            if time.monotonic() > deadline:
                self._kill()
                self._fail(f"wrote no sample within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.005)

    def stop(self) -> Recording:
        if self._proc is None or self._out_dir is None:
            raise RuntimeError("stop() before start()")
        proc = self._proc
        assert proc.stdin is not None
        proc.stdin.close()  # the placeholder reads EOF and exits; EnergiBridge follows
        try:
            code = proc.wait(timeout=self.interval_ms / 1000.0 * 2 + 10.0)
        except subprocess.TimeoutExpired:
            self._kill()
            self._fail("did not exit after its command ended")
        if code != 0:
            self._fail(f"exited with code {code}")
        self._proc = None
        self._cleanup()
        table = parse_energibridge_csv(self.csv_path)
        out = RecordingBuilder(self.name, self.notes)
        out.checks = self.checks
        energibridge_series(table, out, gpu=self.gpu, client_cpu=self.client_cpu)
        if not out.series:
            out.notes.append(
                "energibridge: its CSV has no energy column that advanced (unknown CPU "
                "vendor?): no energy was measured"
            )
        return out.finish(self._out_dir, table.time_s, self.csv_path)

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def _cleanup(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _fail(self, what: str) -> NoReturn:
        stderr = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            stderr = self._stderr.read().decode("utf-8", "replace")
        self._proc = None
        self._cleanup()
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        if any("panicked" in ln for ln in lines):
            # Rust prints "thread 'main' panicked at src/cpu/intel.rs:..:" then the error.
            i = next(i for i, ln in enumerate(lines) if "panicked" in ln)
            detail = lines[i + 1] if i + 1 < len(lines) else lines[i]
            if "PermissionDenied" in stderr or "NotFound" in stderr:
                raise MeterError(f"{MSR_FIX}; it said: {detail}")
            unread = re.search(r"failed to read (\w+)", detail)
            if unread is not None and "Input/output error" in detail:
                # Access is fine: the CPU lacks this register (PP1 or DRAM on many parts),
                # and EnergiBridge reads every one of them unconditionally.
                raise MeterError(
                    f"EnergiBridge ({self.binary}) cannot run on this CPU: it reads the "
                    f"{unread.group(1)} energy MSR, which this CPU does not implement (the "
                    f"read fails with EIO, not for lack of permission); use --meter rapl, "
                    f"which reads the zones the kernel finds; it said: {detail}"
                )
            if "src/cpu" in lines[i]:
                raise MeterError(f"{MSR_FIX}; it said: {detail}")
            raise MeterError(f"EnergiBridge ({self.binary}) {what}: it panicked: {detail}")
        said = f"; it said: {lines[-1]}" if lines else ""
        raise MeterError(f"EnergiBridge ({self.binary}) {what}{said}")


def _has_data_row(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read().count(b"\n") >= 2
    except FileNotFoundError:
        return False
