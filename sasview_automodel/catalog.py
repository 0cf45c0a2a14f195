"""The one declarative catalog of classes the classifier knows.

Each row is a sasmodels form factor: how to draw physically sensible parameters for the
simulated training database, which parameter carries polydispersity, and which lengths
define the "size features" that a q window must contain for the curve to be identifiable.
Adding a class is a row here plus a retrain; nothing else in the code names a model.

Rules for near-degenerate shapes (documented in docs/design.md). The draws reach into each
class's boundary with another class, as measured samples do; a row's ``near_degenerate`` rule
flags the parameter sets that a curve cannot tell from the neighbouring class, and training
gives those curves a reduced cross-entropy weight (like curves whose size features lie outside
their window) instead of teaching the network noise. Where the row names ``near_degenerate_as``
(the simpler class the curve is indistinguishable from: a sphere for a thin-shelled or
near-homogeneous core-shell sphere and a near-spherical ellipsoid, a cylinder for such a
core-shell cylinder), training moves most of that curve's target onto the simpler class
(``near_degenerate_simpler`` in the recipe): the answer a SAS expert gives first (Occam).

* ``ellipsoid``/``core_shell_ellipsoid``: axis ratios within 0.9-1.11 are never drawn (spheres);
  0.8-1.25 is drawn and flagged.
* ``core_shell_*``: the shell contrast may be weak (down to 1/6 of the core's) and the shell thin
  (down to 3 % of the radius); the core is never matched to the solvent and core and shell
  contrasts never agree within 20 % (a homogeneous body). Thin shells (< 5 % of the radius),
  weak shells (< 1/4 of the core's contrast) and near-homogeneous bodies (within 30 %) are flagged.
* ``vesicle``: the shell is never thicker than the (solvent-filled) core radius, and
  ``hollow_cylinder`` keeps a core radius of at least 30 % of the outer radius; thicker
  walls make them a plain sphere or cylinder.
* ``parallelepiped``: edges a <= b <= c, each pair distinct within 1.1x: near-square cross-sections
  (b < 1.4 a, cylinder-like) are drawn and flagged.
* polydispersity: Schulz, Gaussian or lognormal, relative width up to 0.5 (a quarter of the draws
  above 0.25).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .encoding import decode_slot, decode_slots, encode_slot, slot_kind

# Scattering-length densities (1e-6 / A^2) of common solvents span H2O (-0.56) to D2O (6.36).
SOLVENT_SLD = (-0.56, 6.36)
# Size distributions: relative width uniform over PD_NARROW, or over PD_BROAD for a share of draws.
PD_NARROW = (0.0, 0.25)
PD_BROAD = (0.25, 0.5)
PD_BROAD_SHARE = 0.25
PD_TYPES = ("schulz", "gaussian", "lognormal")
# Core-shell contrast: core contrast = ratio x shell contrast, |ratio| up to 3, or for a share of
# draws 3-6 (a weak shell); never |ratio| < CORE_MATCHED (core matched to the solvent) nor
# |ratio - 1| < HOMOGENEOUS.
CONTRAST_RATIO = 3.0
WEAK_SHELL_RATIO = (3.0, 6.0)
WEAK_SHELL_SHARE = 0.2
CORE_MATCHED = 0.2
HOMOGENEOUS = 0.2


@dataclass(frozen=True)
class Param:
    """A sampled parameter: log- or linear-uniform in [low, high], optionally a factor times
    another parameter (``relative_to``), with an optional excluded band of that factor."""

    name: str
    low: float
    high: float
    log: bool = True
    relative_to: str | None = None
    exclude: tuple[float, float] | None = None
    max_value: float | None = None
    min_value: float | None = None

    def draw(self, rng: np.random.Generator, values: dict[str, float]) -> float:
        for _ in range(100):
            if self.log:
                x = float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))
            else:
                x = float(rng.uniform(self.low, self.high))
            if self.exclude and self.exclude[0] <= x <= self.exclude[1]:
                continue
            if self.relative_to:
                x *= values[self.relative_to]
            if self.max_value is not None and x > self.max_value:
                continue
            if self.min_value is not None and x < self.min_value:
                continue
            return x
        raise RuntimeError(f"cannot draw {self.name} inside its constraints")

    def allows(self, x: float, values: dict) -> bool:
        """Whether ``x`` is a value ``draw`` could have produced (same rules, as a check)."""
        f = x / values[self.relative_to] if self.relative_to else x
        if not (self.low * (1 - 1e-9) <= f <= self.high * (1 + 1e-9)):
            return False
        if self.exclude and self.exclude[0] <= f <= self.exclude[1]:
            return False
        if self.max_value is not None and x > self.max_value:
            return False
        return self.min_value is None or x >= self.min_value


@dataclass(frozen=True)
class ModelClass:
    """One class of the classifier: a sasmodels form factor and how to simulate it."""

    name: str                      # sasmodels model name
    label: str                     # human-readable name for tables and the GUI
    params: tuple[Param, ...]
    pd_param: str                  # the size parameter that carries polydispersity
    pd_n: int                      # polydispersity points (cost control for slow kernels)
    contrast: str                  # "single" (shape only) or "core_shell" (three SLDs)
    sld_names: tuple[str, ...]     # (particle..., solvent) parameter names
    feature_lengths: Callable[[dict], tuple[float, float]]  # (largest, smallest) in A
    start_params: tuple[str, ...] = field(default=())       # parameters that get start values
    fixed: dict = field(default_factory=dict)
    near_degenerate: Callable[[dict], bool] = lambda p: False  # a neighbouring class fits it as well
    near_degenerate_as: str | None = None  # the simpler class such a curve is indistinguishable from

    def allows(self, pars: dict) -> bool:
        """Whether a stored parameter set obeys this row's current rules (filters old databases)."""
        return all(p.allows(pars[p.name], pars) for p in self.params)

    def draw(self, rng: np.random.Generator) -> dict[str, float | str]:
        """Draw one physically sensible parameter set (without scale and background)."""
        values: dict[str, float | str] = dict(self.fixed)
        for p in self.params:
            values[p.name] = p.draw(rng, values)
        values.update(_draw_contrast(rng, self.contrast, self.sld_names))
        broad = rng.uniform() < PD_BROAD_SHARE
        values[self.pd_param + "_pd"] = float(rng.uniform(*(PD_BROAD if broad else PD_NARROW)))
        values[self.pd_param + "_pd_type"] = str(rng.choice(PD_TYPES))
        values[self.pd_param + "_pd_n"] = self.pd_n
        values[self.pd_param + "_pd_nsigma"] = 3.0
        return values


def _draw_contrast(rng: np.random.Generator, kind: str, names: tuple[str, ...]) -> dict[str, float]:
    solvent = float(rng.uniform(*SOLVENT_SLD))
    if kind == "single":
        # Contrast only scales a homogeneous body: keep a fixed, realistic one.
        return {names[0]: solvent + float(rng.choice([-1, 1]) * rng.uniform(0.5, 5.0)), names[-1]: solvent}
    # core-shell: shell contrast d_s, core contrast d_c = ratio * d_s, with the degenerate
    # bands excluded (shell invisible, core matched, homogeneous body).
    d_shell = float(rng.choice([-1, 1]) * rng.uniform(0.5, 5.0))
    while True:
        if rng.uniform() < WEAK_SHELL_SHARE:
            ratio = float(rng.choice([-1, 1]) * rng.uniform(*WEAK_SHELL_RATIO))
        else:
            ratio = float(rng.uniform(-CONTRAST_RATIO, CONTRAST_RATIO))
        if abs(ratio) >= CORE_MATCHED and abs(ratio - 1.0) >= HOMOGENEOUS:
            break
    return {names[0]: solvent + ratio * d_shell, names[1]: solvent + d_shell, names[2]: solvent}


def _ratio_band(low: float, high: float) -> tuple[float, float]:
    return (low, high)


NEAR_ONE = _ratio_band(0.9, 1.11)       # never drawn: a sphere
NEAR_ONE_FLAGGED = _ratio_band(0.8, 1.25)  # drawn, flagged near-degenerate


def _near(x: float, band: tuple[float, float]) -> bool:
    return band[0] <= x <= band[1]


def _core_shell_near(p: dict, radius: str, thickness: str) -> bool:
    """Thin shell, weak shell contrast or a near-homogeneous body (core and shell contrasts close)."""
    d_shell = p["sld_shell"] - p["sld_solvent"]
    ratio = (p["sld_core"] - p["sld_solvent"]) / d_shell
    return p[thickness] < 0.05 * p[radius] or abs(ratio) > 4.0 or abs(ratio - 1.0) < 0.3

CLASSES: tuple[ModelClass, ...] = (
    ModelClass(
        name="sphere", label="Sphere",
        params=(Param("radius", 10, 3000),),
        pd_param="radius", pd_n=35, contrast="single", sld_names=("sld", "sld_solvent"),
        feature_lengths=lambda p: (p["radius"], p["radius"]),
        start_params=("radius",),
    ),
    ModelClass(
        name="core_shell_sphere", label="Core-shell sphere",
        params=(Param("radius", 10, 1500), Param("thickness", 0.03, 1.5, relative_to="radius", max_value=400, min_value=5)),
        pd_param="radius", pd_n=35, contrast="core_shell", sld_names=("sld_core", "sld_shell", "sld_solvent"),
        feature_lengths=lambda p: (p["radius"] + p["thickness"], p["radius"] + p["thickness"]),
        start_params=("radius", "thickness"),
        near_degenerate=lambda p: _core_shell_near(p, "radius", "thickness"), near_degenerate_as="sphere",
    ),
    ModelClass(
        name="vesicle", label="Vesicle",
        params=(Param("radius", 10, 1500), Param("thickness", 0.05, 1.0, relative_to="radius", min_value=5)),
        pd_param="radius", pd_n=35, contrast="single", sld_names=("sld", "sld_solvent"),
        feature_lengths=lambda p: (p["radius"] + p["thickness"], p["radius"] + p["thickness"]),
        start_params=("radius", "thickness"), fixed={"volfraction": 1.0},
    ),
    ModelClass(
        name="ellipsoid", label="Ellipsoid",
        params=(Param("radius_equatorial", 10, 1000),
                Param("radius_polar", 0.1, 10, relative_to="radius_equatorial", exclude=NEAR_ONE, max_value=3000)),
        pd_param="radius_equatorial", pd_n=15, contrast="single", sld_names=("sld", "sld_solvent"),
        feature_lengths=lambda p: (max(p["radius_polar"], p["radius_equatorial"]), min(p["radius_polar"], p["radius_equatorial"])),
        start_params=("radius_polar", "radius_equatorial"),
        near_degenerate=lambda p: _near(p["radius_polar"] / p["radius_equatorial"], NEAR_ONE_FLAGGED),
        near_degenerate_as="sphere",
    ),
    ModelClass(
        name="core_shell_ellipsoid", label="Core-shell ellipsoid",
        params=(Param("radius_equat_core", 10, 600), Param("x_core", 0.1, 10, exclude=NEAR_ONE),
                Param("thick_shell", 0.03, 1.0, relative_to="radius_equat_core", max_value=300, min_value=5),
                Param("x_polar_shell", 0.5, 2.0)),
        pd_param="radius_equat_core", pd_n=11, contrast="core_shell",
        sld_names=("sld_core", "sld_shell", "sld_solvent"),
        feature_lengths=lambda p: _cse_lengths(p),
        start_params=("radius_equat_core", "x_core", "thick_shell", "x_polar_shell"),
        near_degenerate=lambda p: (_near(p["x_core"], NEAR_ONE_FLAGGED)
                                   or _core_shell_near(p, "radius_equat_core", "thick_shell")),
    ),
    ModelClass(
        name="cylinder", label="Cylinder (rod or disc)",
        params=(Param("radius", 10, 800), Param("length", 0.1, 60, relative_to="radius", max_value=6000)),
        pd_param="radius", pd_n=15, contrast="single", sld_names=("sld", "sld_solvent"),
        feature_lengths=lambda p: (max(p["radius"], p["length"] / 2), min(p["radius"], p["length"] / 2)),
        start_params=("radius", "length"),
    ),
    ModelClass(
        name="core_shell_cylinder", label="Core-shell cylinder",
        params=(Param("radius", 10, 600), Param("thickness", 0.03, 1.5, relative_to="radius", max_value=300, min_value=5),
                Param("length", 0.1, 60, relative_to="radius", max_value=6000)),
        pd_param="radius", pd_n=9, contrast="core_shell", sld_names=("sld_core", "sld_shell", "sld_solvent"),
        feature_lengths=lambda p: (max(p["radius"] + p["thickness"], p["length"] / 2 + p["thickness"]),
                                   min(p["radius"] + p["thickness"], p["length"] / 2 + p["thickness"])),
        start_params=("radius", "thickness", "length"),
        near_degenerate=lambda p: _core_shell_near(p, "radius", "thickness"), near_degenerate_as="cylinder",
    ),
    ModelClass(
        name="hollow_cylinder", label="Hollow cylinder",
        params=(Param("radius", 10, 600), Param("thickness", 0.1, 2.3, relative_to="radius", max_value=400, min_value=5),
                Param("length", 0.1, 60, relative_to="radius", max_value=6000)),
        pd_param="radius", pd_n=9, contrast="single", sld_names=("sld", "sld_solvent"),
        feature_lengths=lambda p: (max(p["radius"] + p["thickness"], p["length"] / 2),
                                   min(p["radius"] + p["thickness"], p["length"] / 2)),
        start_params=("radius", "thickness", "length"),
    ),
    ModelClass(
        name="parallelepiped", label="Parallelepiped",
        params=(Param("length_a", 10, 500), Param("length_b", 1.1, 8, relative_to="length_a"),
                Param("length_c", 1.1, 15, relative_to="length_b", max_value=6000)),
        pd_param="length_a", pd_n=3, contrast="single", sld_names=("sld", "sld_solvent"),
        feature_lengths=lambda p: (p["length_c"] / 2, p["length_a"] / 2),
        start_params=("length_a", "length_b", "length_c"),
        near_degenerate=lambda p: p["length_b"] < 1.4 * p["length_a"],
    ),
)


def _cse_lengths(p: dict) -> tuple[float, float]:
    equat = p["radius_equat_core"] + p["thick_shell"]
    polar = p["radius_equat_core"] * p["x_core"] + p["thick_shell"] * p["x_polar_shell"]
    return max(equat, polar), min(equat, polar)


CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)
BY_NAME: dict[str, ModelClass] = {c.name: c for c in CLASSES}


def get(name: str) -> ModelClass:
    """The catalog row of a sasmodels model name."""
    return BY_NAME[name]


# -- shape families (issue 25: answers at the level the data support) --------------------------
# Every class belongs to exactly one family. A family's probability is the sum of its members'
# calibrated probabilities, recalibrated on validation curves (the card's ``families``
# temperature, sasview_automodel/sets.py). Why this split (docs/design.md, "Shape families"):
# the confusions the data cannot resolve lie mostly inside a family (sphere / core-shell sphere /
# vesicle; cylinder / ellipsoid / parallelepiped at modest aspect ratios; core-shell ellipsoid /
# core-shell cylinder), while the isotropic vs anisotropic question is what a SAS expert reads
# first off a curve (a Guinier knee then Porod, versus the q^-1 or q^-2 mid-q slope of rods and discs).
@dataclass(frozen=True)
class ShapeFamily:
    """A group of catalog classes that share a shape: its members and what it says to a user."""

    name: str                       # machine name (to_dict()["family"])
    label: str                      # short name for tables and the GUI
    members: tuple[str, ...]        # sasmodels names, CLASSES order
    words: str                      # how the panel says it: "a compact, sphere-like particle"


FAMILIES: tuple[ShapeFamily, ...] = (
    ShapeFamily(name="compact", label="Compact (sphere-like)",
                members=("sphere", "core_shell_sphere", "vesicle"),
                words="a compact, sphere-like particle (solid, core-shell or hollow)"),
    ShapeFamily(name="anisotropic", label="Elongated or flat",
                members=("ellipsoid", "core_shell_ellipsoid", "cylinder", "core_shell_cylinder", "hollow_cylinder",
                         "parallelepiped"),
                words="an elongated or flat particle (a rod, disc, ellipsoid or prism)"),
)
FAMILY_NAMES: tuple[str, ...] = tuple(f.name for f in FAMILIES)
FAMILY_OF: dict[str, str] = {m: f.name for f in FAMILIES for m in f.members}


def family(name: str) -> ShapeFamily:
    """The FAMILIES row of a family name."""
    return FAMILIES[FAMILY_NAMES.index(name)]


def family_matrix(classes: Sequence[str]) -> np.ndarray:
    """(len(classes), len(FAMILIES)) 0/1 membership matrix: ``probs @ family_matrix(classes)``
    are the raw family sums of probabilities given in ``classes`` order."""
    m = np.zeros((len(classes), len(FAMILIES)))
    for k, c in enumerate(classes):
        m[k, FAMILY_NAMES.index(FAMILY_OF[c])] = 1.0
    return m


# -- regression targets (starting parameters predicted by the network) -------------------------
# One slot per (class, start parameter) plus the polydispersity of each class's pd_param.
# Lengths are encoded as log10(length * q_ref), with q_ref the first q of the data on the
# classifier grid: the network sees the curve relative to its window, so this is what it can
# know. Dimensionless ratios (x_*) are log10(value); polydispersity is 4 x width. The encoding
# itself (kinds, scalings, clip ranges) is sasview_automodel.encoding's.
REGRESSION_SLOTS: tuple[tuple[int, str, str], ...] = tuple(
    (k, name, kind)
    for k, spec in enumerate(CLASSES)
    for name, kind in [(n, slot_kind(n)) for n in spec.start_params] + [(spec.pd_param + "_pd", "pd")]
)


def encode_targets(label: int, pars: dict, q_ref: float) -> tuple[np.ndarray, np.ndarray]:
    """(targets, mask) over REGRESSION_SLOTS for a parameter set of class ``label``."""
    target = np.zeros(len(REGRESSION_SLOTS), np.float32)
    mask = np.zeros(len(REGRESSION_SLOTS), np.float32)
    for s, (k, name, kind) in enumerate(REGRESSION_SLOTS):
        if k != label:
            continue
        v = float(pars[name])
        target[s] = encode_slot(kind, v, q_ref)
        mask[s] = 1.0
    return target, mask


# the slots of each class, in REGRESSION_SLOTS order: (slot index, name, kind)
SLOTS_BY_CLASS: dict[int, tuple[tuple[int, str, str], ...]] = {
    label: tuple((s, name, kind) for s, (k, name, kind) in enumerate(REGRESSION_SLOTS) if k == label)
    for label in range(len(CLASSES))}


def decode_all_targets(values: np.ndarray, q_ref: np.ndarray) -> np.ndarray:
    """Every slot of a batch of regression outputs (B, S) decoded at once (float64 (B, S));
    row ``b``'s slots of class ``label`` are ``SLOTS_BY_CLASS[label]``, as ``decode_targets``."""
    return decode_slots([kind for _, _, kind in REGRESSION_SLOTS], values, q_ref)


def decode_targets(values: np.ndarray | Sequence[float], label: int, q_ref: float) -> dict[str, float]:
    """Parameter values of class ``label`` from a regression output row (array or list)."""
    out = {}
    for s, name, kind in SLOTS_BY_CLASS.get(label, ()):
        v = float(values[s])
        out[name] = decode_slot(kind, v, q_ref)
    return out


# -- structure factors (issue 9: concentrated samples, P(q)@S(q)) ------------------------------
# The ONE table of structure factors the simulated database may multiply a form factor with.
# A product ``form@name`` uses sasmodels' own effective radius (``radius_effective_mode``, the
# mode named in EFFECTIVE_RADIUS_MODE for each form factor, looked up by name in the product
# model's choices) and the plain product ``P*S`` (``structure_factor_mode`` 0), as SasView's
# Fitting page does by default. ``volfraction`` is the volume fraction S sees (for a vesicle the
# enclosed volume, see training/simulate.py). Ranges are chosen so that a good part of the draws
# shows an S(q) that the eye sees, while the dilute-looking end stays in (realistic samples).
@dataclass(frozen=True)
class StructureFactor:
    """One sasmodels structure factor: how to draw its parameters (radius_effective excluded:
    sasmodels computes it from the form factor)."""

    name: str                      # sasmodels model name
    label: str
    params: tuple[Param, ...]      # volfraction first
    weight: float = 1.0            # relative frequency among products (0 = never drawn)
    fixed: dict = field(default_factory=dict)
    interactions: str = ""         # what the GUI says: "concentrated: {interactions} suggested"

    def draw(self, rng: np.random.Generator) -> dict[str, float]:
        values: dict[str, float] = dict(self.fixed)
        for p in self.params:
            values[p.name] = p.draw(rng, values)
        return values

    def mid_values(self) -> dict[str, float]:
        """The middle of each range except volfraction (geometric for log-uniform ranges): the
        values a quick P@S fit holds the S(q)-specific parameters at (docs/design.md)."""
        mid = {p.name: float(np.sqrt(p.low * p.high) if p.log else (p.low + p.high) / 2) for p in self.params[1:]}
        return {**self.fixed, **{k: float(f"{v:.4g}") for k, v in mid.items()}}


STRUCTURE_FACTORS: tuple[StructureFactor, ...] = (
    StructureFactor(
        name="hardsphere", label="Hard sphere (Percus-Yevick)",
        params=(Param("volfraction", 0.01, 0.5, log=False),), interactions="hard-sphere-like interactions",
    ),
    StructureFactor(
        # Charged spheres, rescaled MSA: 1:1 salt 0.01-30 mM keeps the Debye length comparable
        # to the particle or longer (charged micelles at low ionic strength: strong correlation
        # peaks, sometimes stronger than any form-factor feature), even at low volume fraction.
        name="hayter_msa", label="Charged spheres (Hayter-Penfold MSA)",
        params=(Param("volfraction", 0.01, 0.30, log=False), Param("charge", 5.0, 120.0),
                Param("temperature", 283.0, 343.0, log=False), Param("concentration_salt", 1e-5, 0.03),
                Param("dielectconst", 65.0, 80.0, log=False)),
        interactions="screened electrostatic repulsion (charged particles)",
    ),
    StructureFactor(
        # Baxter adhesive spheres; tau (stickiness) small = sticky. perturb within sasmodels' limits.
        name="stickyhardsphere", label="Sticky hard sphere (Baxter)",
        params=(Param("volfraction", 0.01, 0.5, log=False), Param("perturb", 0.01, 0.1, log=False),
                Param("stickiness", 0.1, 2.0)),
        interactions="short-range attraction (sticky hard spheres)",
    ),
    StructureFactor(
        # Square-well MSA is valid only at low volume fraction (sasmodels' limit is 0.08).
        name="squarewell", label="Square well (MSA)",
        params=(Param("volfraction", 0.01, 0.08, log=False), Param("welldepth", 0.3, 1.2, log=False),
                Param("wellwidth", 1.1, 1.5, log=False)),
        interactions="attractive square-well interactions",
    ),
)
SQ_NAMES: tuple[str, ...] = tuple(s.name for s in STRUCTURE_FACTORS)

# radius_effective_mode per form factor, by the name sasmodels gives the choice: the particle's
# own radius for spheres and shells, the equivalent-volume sphere for anisotropic bodies.
EFFECTIVE_RADIUS_MODE: dict[str, str] = {
    "sphere": "radius",
    "core_shell_sphere": "outer radius",
    "vesicle": "outer radius",
    "ellipsoid": "equivalent volume sphere",
    "core_shell_ellipsoid": "equivalent volume sphere",
    "cylinder": "equivalent volume sphere",
    "core_shell_cylinder": "equivalent volume sphere",
    "hollow_cylinder": "equivalent outer volume sphere",
    "parallelepiped": "equivalent volume sphere",
}

# Hollow bodies: sasmodels hands S the volume fraction of P@S times the form:shell volume ratio
# (S sees the enclosed volume). The database draws the fraction S sees, so for these classes the
# product gets volfraction / ratio (ratio from the mean dimensions; the value S really used is
# stored with the curve).
HOLLOW_VOLUME_RATIO: dict[str, Callable[[dict], float]] = {
    "vesicle": lambda p: (p["radius"] + p["thickness"]) ** 3 / ((p["radius"] + p["thickness"]) ** 3 - p["radius"] ** 3),
    "hollow_cylinder": lambda p: (p["radius"] + p["thickness"]) ** 2 / ((p["radius"] + p["thickness"]) ** 2 - p["radius"] ** 2),
}


def structure_factor(name: str) -> StructureFactor:
    """The STRUCTURE_FACTORS row of sasmodels name ``name``."""
    return STRUCTURE_FACTORS[SQ_NAMES.index(name)]


def structure_factor_index(name: str) -> int:
    """Position of a structure factor in STRUCTURE_FACTORS (the database's ``sq_label``)."""
    return SQ_NAMES.index(name)
