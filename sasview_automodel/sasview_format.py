"""SasView's Fitting-page formats, without Qt: the ``updateFromParameters`` dictionary and the
``sasview_parameter_values:`` clipboard string that Edit > Paste in a fit page reads.

Both formats are SasView's own (FittingUtilities.formatParameters / FittingWidget.clipboard_paste):
rows ``name: [checked, value, min, max]``, polydispersity rows ``name.width: [checked, width,
min, max, npts, nsigmas, function]`` with ``polydisperse_params``. A P@S page names its structure
factor in ``fitpage_structure`` and adds its rows (volfraction, radius_effective_mode,
structure_factor_mode, radius_effective, the S-specific parameters); choice rows carry the
choice's index (FittingWidget.updateFullModel reads them with ``int(text, 0)``).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np


def sasview_category(model: str) -> str:
    """The Fitting-page category SasView derives from the sasmodels category ("shape:sphere" -> "Sphere").

    Inside SasView, prefer the category read from the page's own ``master_category_dict``.
    """
    from sasmodels.core import load_model_info

    category = load_model_info(model).category or ""
    if not category:
        return "Uncategorized"
    return " ".join(t.capitalize() for t in category.split(":")[-1].split("-"))


def parameter_bounds(model: str) -> dict[str, tuple[float, float]]:
    """(min, max) of each sasmodels parameter of ``model``, as its parameter table states them."""
    from sasmodels.core import load_model_info

    return {p.name: tuple(p.limits) for p in load_model_info(model).parameters.kernel_parameters}


def paste_string(line_dict: Mapping) -> str:
    """The ``sasview_parameter_values:`` clipboard text for a line dictionary."""
    rows = ["sasview_parameter_values"]
    for key, values in line_dict.items():
        rows.append(",".join([str(key), *[str(v) for v in values]]))
    return ":".join(rows)


def _fmt(x) -> str:
    return repr(float(x)) if isinstance(x, (int, float, np.floating, np.integer)) else str(x)


def structure_rows(form: str, structure: str, volfraction: float | None = None,
                   values: Mapping | None = None) -> dict[str, tuple]:
    """The S(q) rows of a ``form@structure`` Fitting page: ``{name: (checked, value, min, max)}``.

    ``volfraction`` (None: sasview_automodel.product's default) is checked and bounded as in the
    quick fit; ``radius_effective_mode`` (the catalog's choice for ``form``) and
    ``structure_factor_mode`` (P*S) are written as choice indices, as SasView's combo-box rows
    read them (``int(text, 0)``); ``radius_effective`` (computed by sasmodels from the form factor
    in that mode; sasmodels' default as a placeholder until SasView's first calculation) and the
    S(q)-specific parameters are unchecked, at ``values`` (a product fit's
    ``structure_parameters``) or else at the catalog's mid values.
    """
    from . import catalog, product

    limits = product.parameter_limits(form, structure)
    values = {**catalog.structure_factor(structure).mid_values(), **(values or {})}
    r_eff = values.pop("radius_effective", product.default_radius_effective(form, structure))
    rows = {"volfraction": (True, product.start_volfraction(form, structure, volfraction),
                            *product.volfraction_bounds(form, structure)),
            "radius_effective_mode": (False, str(product.radius_effective_mode(form, structure)),
                                      *limits["radius_effective_mode"]),
            "structure_factor_mode": (False, str(product.STRUCTURE_FACTOR_MODE), *limits["structure_factor_mode"]),
            "radius_effective": (False, r_eff, *limits["radius_effective"])}
    for name, value in values.items():
        if name in limits and name not in rows:
            rows[name] = (False, value, *limits[name])
    return rows


def fitting_line_dict(model: str, category: str, parameters: Mapping | None = None,
                      polydispersity: Mapping | None = None, fixed: tuple[str, ...] = (),
                      structure: str | None = None, structure_parameters: Mapping | None = None) -> dict:
    """The ``updateFromParameters`` dictionary for a Fitting page (values as strings).

    ``parameters``: ``{name: value}`` or ``{name: (value, min, max)}``; each row becomes
    ``[checked, value, min, max]`` (checked = "True" unless the name is in ``fixed``).
    ``polydispersity``: ``{name: width}`` or ``{name: {"width": w, "function": "gaussian",
    "npts": 35, "nsigmas": 3}}``, written as ``"<name>.width"`` rows with
    ``polydisperse_params: ["True"]``. ``structure``: the S(q) of a P@S page (SasView selects it
    in its structure-factor box), ``structure_parameters`` its ``{name: (checked, value, min,
    max)}`` rows (``structure_rows()``). ``fitpage_structure`` is always sent, "None" without a
    structure factor (SasView 6.2 raises KeyError without it).
    """
    line = {
        "fitpage_category": [category],
        "fitpage_model": [model],
        "fitpage_structure": [structure or "None"],
        "model_name": [model],
    }
    for name, spec in (parameters or {}).items():
        if isinstance(spec, (list, tuple)):
            value, lo, hi = (list(spec) + ["-inf", "inf"])[:3]
        else:
            value, lo, hi = spec, "-inf", "inf"
        line[str(name)] = [str(name not in fixed), _fmt(value), _fmt(lo), _fmt(hi)]
    for name, (checked, value, lo, hi) in (structure_parameters or {}).items() if structure else ():
        line[str(name)] = [str(bool(checked)), _fmt(value), _fmt(lo), _fmt(hi)]
    if polydispersity:
        line["polydisperse_params"] = ["True"]
        for name, spec in polydispersity.items():
            if not isinstance(spec, Mapping):
                spec = {"width": spec}
            line[f"{name}.width"] = ["True", _fmt(spec["width"]), "0.0", "inf",
                                    str(int(spec.get("npts", 35))), _fmt(float(spec.get("nsigmas", 3.0))),
                                    str(spec.get("function", "gaussian"))]
    return line


def split_parameters(parameters: Mapping | None, model: str) -> tuple[dict, dict]:
    """Split a Suggestion's parameters for ``model`` into (values, polydispersity).

    Accepts ``{model: {...}}`` or a flat ``{...}``; keys ``<p>_pd`` (width) and
    ``<p>_pd_type`` (function) become polydispersity, ``<p>_pd_n``/``_pd_nsigma`` its options.
    Parameters are empty in this version (a later issue adds starting values).
    """
    if not parameters:
        return {}, {}
    pars = parameters.get(model, parameters) if isinstance(parameters.get(model, None), Mapping) else parameters
    values, pd = {}, {}
    for key, val in pars.items():
        if not isinstance(key, str) or isinstance(val, Mapping):
            continue
        if key.endswith("_pd"):
            pd.setdefault(key[:-3], {})["width"] = val
        elif key.endswith("_pd_type"):
            pd.setdefault(key[:-8], {})["function"] = val
        elif key.endswith("_pd_n"):
            pd.setdefault(key[:-5], {})["npts"] = val
        elif key.endswith("_pd_nsigma"):
            pd.setdefault(key[:-10], {})["nsigmas"] = val
        elif isinstance(val, (int, float, np.floating, np.integer, list, tuple)):
            values[key] = val
    pd = {k: v for k, v in pd.items() if "width" in v}
    return values, pd
