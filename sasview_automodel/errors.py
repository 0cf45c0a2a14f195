"""One exception hierarchy: every message says what is wrong with the input and what to do."""
from __future__ import annotations


class AutomodelError(Exception):
    """Base class of every error sasview-automodel raises on purpose."""


class InputError(AutomodelError, ValueError):
    """The curve (arrays or file content) cannot be classified as given."""


class FileFormatError(AutomodelError):
    """A file is missing, unreadable, empty or in a format the loaders do not know."""


class BundleError(AutomodelError):
    """The model bundle (.onnx + model card) is missing, corrupted or from another version."""
