"""sasview-automodel: suggests sasmodels form factors for 1D small-angle scattering curves."""
from __future__ import annotations

__version__ = "0.1.0"

from .curve import Curve, load_file, make_curve  # noqa: E402
from .errors import AutomodelError, BundleError, FileFormatError, InputError  # noqa: E402
from .suggest import Suggester, Suggestion  # noqa: E402

__all__ = ["Suggester", "Suggestion", "Curve", "load_file", "make_curve", "AutomodelError", "InputError",
           "FileFormatError", "BundleError", "__version__"]
