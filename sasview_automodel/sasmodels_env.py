"""The sasmodels compute engine: chosen when a model is first loaded, never on import.

sasmodels reads ``SAS_OPENCL`` when ``sasmodels.core.load_model`` builds a model (OpenCL, CUDA, or
``none`` for double-precision C kernels). The quick fit and the simulator want the C kernels unless
the user (or SasView) chose otherwise, so every function that loads a sasmodels model calls
``sasmodels_env()`` first (``load_model`` below does). Modules do not set the variable on import:
importing the plugin inside SasView must not change SasView's own choice.

sasmodels compiles a C kernel straight into its cache file (``~/.sasmodels/compiled_models``), so
on a fresh machine a second process that loads the same model meanwhile opens a half-written
library ("file too short"). ``load_model`` compiles under an inter-process lock in that folder.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import numpy as np

_LOCK_NAME = ".sasview-automodel.lock"


def sasmodels_env() -> None:
    """``SAS_OPENCL=none`` (C kernels) unless the environment already names an engine."""
    os.environ.setdefault("SAS_OPENCL", "none")


def load_model(name: str):
    """``sasmodels.core.load_model(name)`` with its kernel compiled, safe when several processes
    (simulation or batch workers) load the same model for the first time at once."""
    sasmodels_env()
    from sasmodels import kerneldll
    from sasmodels.core import load_model as sas_load_model

    with _cache_lock(kerneldll.SAS_DLL_PATH):
        model = sas_load_model(name)
        model.make_kernel([np.array([0.01])])  # a C model compiles (or opens its cached library) here
    return model


@contextlib.contextmanager
def _cache_lock(folder: str) -> Iterator[None]:
    """An exclusive advisory lock on ``folder`` (POSIX ``flock``; no lock where that is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows: sasmodels' own behaviour
        yield
        return
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, _LOCK_NAME), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
