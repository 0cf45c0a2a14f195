"""The model bundle: an ONNX network plus its JSON model card, checked at load.

The card is parsed once into a typed ``ModelCard`` (every constant the runtime reads). It names
the ONNX file and its sha256; a bundle whose file does not match, whose card is of another
format, malformed, or whose classes or input grid differ from this package's is refused.
One onnxruntime session is made per bundle and reused for every call.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from . import catalog
from .errors import BundleError
from .grid import CHANNELS, GRID_Q
from .scoring import OutlierModel
from .sets import SetModel

CARD_FORMAT = "sasview-automodel-card/1"
DEFAULT_CARD = "automodel.card.json"


def default_card_path() -> str:
    """The model card shipped inside the package."""
    return str(resources.files("sasview_automodel").joinpath("models", DEFAULT_CARD))


def file_sha256(path: str) -> str:
    """sha256 of a file, read in 1 MB blocks (the bundle's checksum)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class StructureHead:
    """The card's structure-factor head: the S(q) it tells apart (``none`` comes first in the
    network's ``structure_logits``, then these) and its softmax temperature."""

    classes: tuple[str, ...]
    temperature: float = 1.0


@dataclass(frozen=True, eq=False)
class ModelCard:
    """The model card, read and checked once (``ModelCard.read``): every constant the runtime
    uses, typed. ``raw`` is the JSON as written (reports copy it; the runtime reads the fields).

    Optional parts: ``structure`` (None: the network has no structure-factor head), the
    confidence ``recalibration`` (None in older cards), the outlier model's class means and
    precision (None where its method does not read them, scoring.uses_mahalanobis), the shape
    families and plausible-set constants (sets.SetModel falls back without them)."""

    path: str
    onnx_file: str
    onnx_sha256: str | None
    classes: tuple[str, ...]
    temperature: float
    outliers: OutlierModel
    confidence_weights: np.ndarray
    confidence_recalibration: tuple[np.ndarray, np.ndarray] | None
    structure: StructureHead | None
    sets: SetModel
    raw: dict = field(repr=False)

    @property
    def name(self) -> str | None:
        return self.raw.get("name")

    @property
    def version(self) -> str | None:
        return self.raw.get("version")

    @classmethod
    def read(cls, path: str) -> "ModelCard":
        """Read and check the card at ``path`` (BundleError with what to do when it is unusable)."""
        try:
            with open(path) as f:
                card = json.load(f)
        except FileNotFoundError:
            raise BundleError(f"model card {path} not found: reinstall sasview-automodel "
                              "or pass the path of a bundle made by training/export.py") from None
        except (OSError, ValueError) as exc:
            raise BundleError(f"model card {path} is not readable JSON ({exc}): reinstall "
                              "sasview-automodel or re-export the bundle") from None
        return cls.from_dict(card, path)

    @classmethod
    def from_dict(cls, card, path: str) -> "ModelCard":
        """Check a card's JSON (format, input grid, entries, classes known to this catalog) and
        parse it."""
        if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
            raise BundleError(f"model card {path} has format {card.get('format') if isinstance(card, dict) else None!r}, "
                              f"this version reads {CARD_FORMAT!r}: use a bundle exported for this version")
        if not card.get("onnx_file"):
            raise BundleError(f"model card {path} names no 'onnx_file': re-export the bundle")
        inputs = card.get("inputs", {})
        if (inputs.get("channels") != list(CHANNELS) or inputs.get("grid_size") != GRID_Q.size
                or not np.isclose(inputs.get("grid_q_min", 0), GRID_Q[0])
                or not np.isclose(inputs.get("grid_q_max", 0), GRID_Q[-1])):
            raise BundleError(f"model card {path} expects another input grid than this package "
                              "provides: use a bundle exported with this version")
        for key in ("classes", "temperature", "ood", "confidence"):
            if key not in card:
                raise BundleError(f"model card {path} lacks '{key}': re-export the bundle")
        try:
            classes = tuple(str(c) for c in card["classes"])
            temperature = float(card["temperature"])
            outliers = OutlierModel.from_card(card["ood"])
            weights = np.asarray(card["confidence"]["weights"], np.float64)
            recal = card["confidence"].get("recalibration")   # isotonic knots (x, y); absent in older cards
            recalibration = (np.asarray(recal["x"], np.float64), np.asarray(recal["y"], np.float64)) if recal else None
            sq = card.get("structure")   # absent in bundles without a structure-factor head
            structure = StructureHead(tuple(str(c) for c in sq["classes"]), float(sq["temperature"])) if sq else None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"model card {path} has a malformed entry ({type(exc).__name__}: {exc}): "
                              "re-export the bundle") from None
        unknown = [c for c in classes if c not in catalog.BY_NAME]
        if unknown:
            raise BundleError(f"model card {path} names classes {unknown} unknown to this catalog")
        unknown = [c for c in (structure.classes if structure else ()) if c not in catalog.SQ_NAMES]
        if unknown:
            raise BundleError(f"model card {path} names structure factors {unknown} unknown to "
                              "this catalog: use the sasview-automodel version the bundle was exported with")
        return cls(path, str(card["onnx_file"]), card.get("onnx_sha256"), classes, temperature, outliers, weights,
                   recalibration, structure, SetModel.from_card(card), card)

    def check_network(self, onnx_path: str, session) -> None:
        """The card's classes, temperature and outlier statistics must fit the network's outputs."""
        shapes = {o.name: o.shape for o in session.get_outputs()}
        if "logits" not in shapes or "embedding" not in shapes:
            raise BundleError(f"model file {onnx_path} lacks the outputs 'logits' and 'embedding' (it has "
                              f"{sorted(shapes)}): it is not a sasview-automodel network; re-export the bundle")
        if self.outliers.method == "knn+msp" and "knn_distance" not in shapes:
            raise BundleError(f"model card {self.path} uses the k-NN outlier score but its network {onnx_path} has "
                              "no 'knn_distance' output: the card belongs to another bundle; re-export the bundle")
        n_logits, n_embed = shapes["logits"][-1], shapes["embedding"][-1]
        means, precision = self.outliers.means, self.outliers.precision
        ok = (self.temperature > 0
              and (not isinstance(n_logits, int) or n_logits == len(self.classes))
              and (means is None or (means.ndim == 2 and means.shape[0] == len(self.classes)
                                     and precision.shape == (means.shape[1], means.shape[1])
                                     and (not isinstance(n_embed, int) or n_embed == means.shape[1]))))
        if not ok:
            stats = "none" if means is None else f"{means.shape}, precision {precision.shape}"
            raise BundleError(f"model card {self.path} does not match its network {onnx_path} ({len(self.classes)} "
                              f"classes, logits {n_logits}, embedding {n_embed}, OOD means {stats}, temperature "
                              f"{self.temperature:g}): the card belongs to another bundle; re-export the bundle")


@dataclass
class ModelBundle:
    """A loaded, verified bundle; ``run(features)`` returns the network's outputs.

    ``model_card`` is the typed card (``ModelCard``); ``card`` its JSON as written."""

    model_card: ModelCard
    onnx_path: str
    session: object

    @classmethod
    def load(cls, card_path: str | None = None, threads: int | None = None) -> "ModelBundle":
        """Load and verify the bundle described by ``card_path`` (default: the shipped one)."""
        card = ModelCard.read(card_path or default_card_path())
        onnx_path = os.path.join(os.path.dirname(card.path), card.onnx_file)
        if not os.path.isfile(onnx_path):
            raise BundleError(f"model file {onnx_path} named by {card.path} is missing: reinstall or re-export")
        digest = file_sha256(onnx_path)
        if digest != card.onnx_sha256:
            raise BundleError(f"model file {onnx_path} fails its checksum: sha256 {digest} but the card "
                              f"{card.path} expects {card.onnx_sha256}; the file was changed or belongs "
                              "to another card: reinstall or re-export the bundle")
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            session = ort.InferenceSession(onnx_path, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BundleError(f"onnxruntime cannot load {onnx_path}: {exc}") from None
        card.check_network(onnx_path, session)
        return cls(card, onnx_path, session)

    @property
    def card(self) -> dict:
        """The card's JSON as written (for reports and tools that copy it; do not edit)."""
        return self.model_card.raw

    @property
    def card_path(self) -> str:
        return self.model_card.path

    @property
    def classes(self) -> list[str]:
        return list(self.model_card.classes)

    def run(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """Every output of the network (logits (B, K), embedding (B, E), params (B, S) where the
        bundle has them) for a float32 batch (B, C, G)."""
        names = [o.name for o in self.session.get_outputs()]
        values = self.session.run(names, {"features": np.ascontiguousarray(features, np.float32)})
        return dict(zip(names, values))
