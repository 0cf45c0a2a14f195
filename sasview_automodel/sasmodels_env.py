"""The sasmodels compute engine: chosen when a model is first loaded, never on import.

sasmodels reads ``SAS_OPENCL`` when ``sasmodels.core.load_model`` builds a model (OpenCL, CUDA, or
``none`` for double-precision C kernels). The quick fit and the simulator want the C kernels unless
the user (or SasView) chose otherwise, so every function that loads a sasmodels model calls
``sasmodels_env()`` first. Modules do not set the variable on import: importing the plugin inside
SasView must not change SasView's own choice.
"""
from __future__ import annotations

import os


def sasmodels_env() -> None:
    """``SAS_OPENCL=none`` (C kernels) unless the environment already names an engine."""
    os.environ.setdefault("SAS_OPENCL", "none")
