"""Where things live on the host: the repository, the caches, the images' requirement
files and the local environments. Each is computed here and nowhere else."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "images"
CACHE_ENV = "FWENERGY_CACHE"
VENVS_ENV = "FWENERGY_VENVS"
SIFS_ENV = "FWENERGY_SIFS"


def cache_root() -> Path:
    """$FWENERGY_CACHE, else $XDG_CACHE_HOME/fwenergy, else ~/.cache/fwenergy."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "fwenergy"


def requirements_file(folder: str, device: str = "cpu") -> Path:
    """The pinned requirements an image (and its local environment) is built from, in
    images/<folder> (a variant's `requirements_folder`: `jax`, `jax/versions/0.5`); GPU
    images have their own file, which may include the CPU one with `-r`."""
    name = "requirements-gpu.txt" if device == "gpu" else "requirements.txt"
    return IMAGES / folder / name


def default_venvs() -> Path:
    """`.venvs/` of the repository root, or $FWENERGY_VENVS."""
    env = os.environ.get(VENVS_ENV)
    return Path(env) if env else REPO / ".venvs"


def default_sifs() -> Path:
    """Where the Apptainer images (.sif) of `--runtime apptainer` are: `.sif/` of the
    repository root, or $FWENERGY_SIFS (on a cluster, a folder on the shared filesystem)."""
    env = os.environ.get(SIFS_ENV)
    return Path(env) if env else REPO / ".sif"


def workload_pythonpath(framework: str) -> str:
    """The workload code of this checkout for a framework's environment: images/common and
    images/<framework>, put before the environment's own path entry (its .pth, written by
    `make venvs` for the checkout that made it), so that the code run is always this one's."""
    return os.pathsep.join(str(IMAGES / part) for part in ("common", framework))
