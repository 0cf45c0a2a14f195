"""P(q)@S(q) product models as the quick fit and SasView's Fitting page use them.

One place for what a product ``form@S`` needs besides the form factor's own parameters:
``structure_factor_mode`` 0 (P*S, the Fitting page default), ``radius_effective_mode`` set to the
catalog's choice for the form factor (``catalog.EFFECTIVE_RADIUS_MODE``, looked up by name in the
product's choices, as training/simulate.py does), the volume fraction within
``VOLFRACTION_BOUNDS`` (and sasmodels' own limit, 0.08 for the square well) and the S(q)-specific
parameters at the middle of the catalog ranges (``StructureFactor.mid_values``).
"""
from __future__ import annotations

import functools

from . import catalog
from .errors import InputError

VOLFRACTION_BOUNDS = (0.001, 0.6)   # the volume fraction a quick P@S fit may take
VOLFRACTION_DEFAULT = 0.2           # start when the suggestion gives none
STRUCTURE_FACTOR_MODE = 0           # "P*S" (no beta approximation)
# Product parameters that are choices (SasView shows a combo box; rows carry the index).
MODE_PARAMETERS = ("structure_factor_mode", "radius_effective_mode")


def product_name(form: str, structure: str) -> str:
    """The sasmodels name of the product, e.g. ``sphere@hardsphere`` (InputError for a form
    factor or structure factor outside the catalog)."""
    if structure not in catalog.SQ_NAMES:
        raise InputError(f"unknown structure factor {structure!r}: use one of {', '.join(catalog.SQ_NAMES)}")
    if form not in catalog.EFFECTIVE_RADIUS_MODE:
        raise InputError(f"no P@S product for {form!r}: the form factor must be one of the catalog classes "
                         f"({', '.join(catalog.CLASS_NAMES)})")
    return f"{form}@{structure}"


def _kernel_parameters(form: str, structure: str) -> dict:
    return _product_parameters(product_name(form, structure))


@functools.lru_cache(maxsize=None)
def _product_parameters(name: str) -> dict:
    from sasmodels.core import load_model_info

    return {p.name: p for p in load_model_info(name).parameters.kernel_parameters}


def radius_effective_mode(form: str, structure: str) -> int:
    """Index of ``catalog.EFFECTIVE_RADIUS_MODE[form]`` among the product's effective-radius choices."""
    choices = list(_kernel_parameters(form, structure)["radius_effective_mode"].choices)
    return choices.index(catalog.EFFECTIVE_RADIUS_MODE[form])


def volfraction_bounds(form: str, structure: str) -> tuple[float, float]:
    """VOLFRACTION_BOUNDS, narrowed to the product's own volfraction limits (square well: 0.08)."""
    low, high = _kernel_parameters(form, structure)["volfraction"].limits
    return max(VOLFRACTION_BOUNDS[0], float(low)), min(VOLFRACTION_BOUNDS[1], float(high))


def start_volfraction(form: str, structure: str, volfraction: float | None) -> float:
    """``volfraction`` (or VOLFRACTION_DEFAULT) inside the fit bounds of the product."""
    low, high = volfraction_bounds(form, structure)
    value = VOLFRACTION_DEFAULT if volfraction is None else float(volfraction)
    return min(max(value, low), high)


def fixed_parameters(form: str, structure: str) -> dict:
    """The product parameters a quick fit holds: the modes and the S(q)-specific mid values."""
    return {"structure_factor_mode": STRUCTURE_FACTOR_MODE,
            "radius_effective_mode": radius_effective_mode(form, structure),
            **catalog.structure_factor(structure).mid_values()}


def parameter_limits(form: str, structure: str) -> dict[str, tuple[float, float]]:
    """(min, max) of each product parameter as sasmodels states them."""
    return {name: tuple(p.limits) for name, p in _kernel_parameters(form, structure).items()}


def default_radius_effective(form: str, structure: str) -> float:
    """sasmodels' default effective radius of the product: a placeholder on a Fitting page, where
    SasView shows the value computed from the form factor after its first calculation."""
    return float(_kernel_parameters(form, structure)["radius_effective"].default)
