"""The train/serve encoding contract: what the network's inputs and outputs mean, in one place.

Training (training/data.py, training/export.py) encodes with these functions and the runtime
(grid, catalog, suggest) decodes with them, so the two sides cannot drift apart. Changing any
constant here changes what a trained network means: it needs a retrain.

Input channels (``CHANNELS``, in this order on axis 1 of the features):

``log_intensity``  log10 I per grid bin minus its mean over the covered bins
``mask``           1 between the first and last bin holding data, 0 elsewhere
``rel_error``      (clip(log10 relative error, -4, 1) + 2) / 2
``dq_over_q``      5 x clip(pinhole dq/q, 0, 0.5)
``slit``           log10(1 + slit_length / q)

Regression slots (catalog.REGRESSION_SLOTS, one per class start parameter and pd width):

``length``  log10(value * q_ref), q_ref the grid q of the first covered bin
``ratio``   log10(value), for dimensionless parameters (names starting ``x_``)
``pd``      4 x the relative width, decoded into 0..0.4

Structure head: ``volfraction`` is 4 x the volume fraction S sees, decoded into 0.001..0.6.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

# -- input channels ----------------------------------------------------------------------------
CHANNELS = ("log_intensity", "mask", "rel_error", "dq_over_q", "slit")
LOG_INTENSITY, MASK, REL_ERROR, DQ_OVER_Q, SLIT = range(len(CHANNELS))
REL_ERROR_LOG_RANGE = (-4.0, 1.0)   # log10 relative error is clipped to this ...
REL_ERROR_OFFSET = 2.0              # ... then shifted and divided to about 0..1
REL_ERROR_DIVISOR = 2.0
DQ_OVER_Q_SCALE = 5.0
DQ_OVER_Q_MAX = 0.5


def encode_rel_error(log_rel_error):
    """The ``rel_error`` channel from log10 of the relative error of the bin means."""
    return (np.clip(log_rel_error, *REL_ERROR_LOG_RANGE) + REL_ERROR_OFFSET) / REL_ERROR_DIVISOR


def encode_dq_over_q(dq_over_q):
    """The ``dq_over_q`` channel from pinhole dq/q."""
    return DQ_OVER_Q_SCALE * np.clip(dq_over_q, 0.0, DQ_OVER_Q_MAX)


def encode_slit(slit_length, q):
    """The ``slit`` channel from the slit length at grid q."""
    return np.log10(1.0 + slit_length / q)


# -- regression slots --------------------------------------------------------------------------
SLOT_KINDS = ("length", "ratio", "pd")
PD_SCALE = 4.0
PD_RANGE = (0.0, 0.4)   # decoded polydispersity widths are clipped to this
SLOT_ENCODING = (f"length: log10(value * q_ref), ratio: log10(value), pd: {PD_SCALE:g} * width; q_ref = "
                 "grid q of the first covered bin (sasview_automodel.catalog.decode_targets)")


def slot_kind(name: str) -> str:
    """The kind of a start-parameter slot: ``ratio`` for ``x_*`` names, else ``length``
    (the pd slot of a class is ``pd`` by construction)."""
    return "ratio" if name.startswith("x_") else "length"


def encode_slot(kind: str, value, q_ref):
    """Network target of a slot value (scalars or broadcasting arrays; q_ref used for lengths)."""
    if kind == "length":
        return np.log10(value * q_ref)
    if kind == "ratio":
        return np.log10(value)
    return PD_SCALE * value


def decode_slot(kind: str, v: float, q_ref: float) -> float:
    """Inverse of :func:`encode_slot` for one output value (pd clipped into ``PD_RANGE``)."""
    if kind == "length":
        return 10 ** v / q_ref
    if kind == "ratio":
        return 10 ** v
    return min(max(v / PD_SCALE, PD_RANGE[0]), PD_RANGE[1])


def decode_slots(kinds: Sequence[str], values: np.ndarray, q_ref: np.ndarray) -> np.ndarray:
    """:func:`decode_slot` of a whole regression output (B, S) at once, slot ``s`` of kind
    ``kinds[s]``, row ``b`` at ``q_ref[b]``: float64 (B, S), the same values up to the last bit
    of the power function (the callers round to four significant digits)."""
    v = np.asarray(values, np.float64)
    kinds = np.asarray(kinds)
    powered = np.power(10.0, v)
    length = powered / np.asarray(q_ref, np.float64)[:, None]
    pd = np.minimum(np.maximum(v / PD_SCALE, PD_RANGE[0]), PD_RANGE[1])
    return np.where(kinds == "length", length, np.where(kinds == "ratio", powered, pd))


# -- structure head ----------------------------------------------------------------------------
VOLFRACTION_SCALE = 4.0
VOLFRACTION_RANGE = (0.001, 0.6)   # decoded volume fractions are clipped to this
VOLFRACTION_ENCODING = f"volfraction: {VOLFRACTION_SCALE:g} x the volume fraction S sees"


def encode_volfraction(volfraction):
    """Network target of the volume fraction S sees (arrays or scalars)."""
    return VOLFRACTION_SCALE * volfraction


def decode_volfraction(v):
    """Inverse of :func:`encode_volfraction`, clipped into ``VOLFRACTION_RANGE``."""
    return np.clip(v / VOLFRACTION_SCALE, *VOLFRACTION_RANGE)
