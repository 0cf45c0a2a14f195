"""The model bundle: an ONNX network plus its JSON model card, checked at load.

The card names the ONNX file and its sha256; a bundle whose file does not match, whose card
is of another format, or whose classes or input grid differ from this package's is refused.
One onnxruntime session is made per bundle and reused for every call.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib import resources

import numpy as np

from .errors import BundleError
from .grid import CHANNELS, GRID_Q

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


def _check_card_matches_network(card: dict, card_path: str, onnx_path: str, session) -> None:
    """The card's classes, temperature and OOD statistics must fit the network's outputs."""
    try:
        classes = [str(c) for c in card["classes"]]
        temperature = float(card["temperature"])
        means = np.asarray(card["ood"]["means"], np.float64)
        precision = np.asarray(card["ood"]["precision"], np.float64)
        float(card["ood"]["threshold"])
        np.asarray(card["confidence"]["weights"], np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"model card {card_path} has a malformed entry ({type(exc).__name__}: {exc}): "
                          "re-export the bundle") from None
    shapes = {o.name: o.shape for o in session.get_outputs()}
    if "logits" not in shapes or "embedding" not in shapes:
        raise BundleError(f"model file {onnx_path} lacks the outputs 'logits' and 'embedding' (it has "
                          f"{sorted(shapes)}): it is not a sasview-automodel network; re-export the bundle")
    if card["ood"].get("method_id") == "knn+msp" and "knn_distance" not in shapes:
        raise BundleError(f"model card {card_path} uses the k-NN outlier score but its network {onnx_path} has no "
                          "'knn_distance' output: the card belongs to another bundle; re-export the bundle")
    n_logits, n_embed = shapes["logits"][-1], shapes["embedding"][-1]
    ok = (temperature > 0 and means.ndim == 2 and means.shape[0] == len(classes)
          and precision.shape == (means.shape[1], means.shape[1])
          and (not isinstance(n_logits, int) or n_logits == len(classes))
          and (not isinstance(n_embed, int) or n_embed == means.shape[1]))
    if not ok:
        raise BundleError(f"model card {card_path} does not match its network {onnx_path} ({len(classes)} classes, "
                          f"logits {n_logits}, embedding {n_embed}, OOD means {means.shape}, precision "
                          f"{precision.shape}, temperature {temperature:g}): the card belongs to another bundle; "
                          "re-export the bundle")


@dataclass
class ModelBundle:
    """A loaded, verified bundle; ``run(features)`` returns (logits, embedding)."""

    card: dict
    card_path: str
    onnx_path: str
    session: object

    @classmethod
    def load(cls, card_path: str | None = None, threads: int | None = None) -> "ModelBundle":
        """Load and verify the bundle described by ``card_path`` (default: the shipped one)."""
        card_path = card_path or default_card_path()
        try:
            with open(card_path) as f:
                card = json.load(f)
        except FileNotFoundError:
            raise BundleError(f"model card {card_path} not found: reinstall sasview-automodel "
                              "or pass the path of a bundle made by training/export.py") from None
        except (OSError, ValueError) as exc:
            raise BundleError(f"model card {card_path} is not readable JSON ({exc}): reinstall "
                              "sasview-automodel or re-export the bundle") from None
        if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
            raise BundleError(f"model card {card_path} has format {card.get('format') if isinstance(card, dict) else None!r}, "
                              f"this version reads {CARD_FORMAT!r}: use a bundle exported for this version")
        if not card.get("onnx_file"):
            raise BundleError(f"model card {card_path} names no 'onnx_file': re-export the bundle")
        onnx_path = os.path.join(os.path.dirname(card_path), card["onnx_file"])
        if not os.path.isfile(onnx_path):
            raise BundleError(f"model file {onnx_path} named by {card_path} is missing: reinstall or re-export")
        digest = file_sha256(onnx_path)
        if digest != card.get("onnx_sha256"):
            raise BundleError(f"model file {onnx_path} fails its checksum: sha256 {digest} but the card "
                              f"{card_path} expects {card.get('onnx_sha256')}; the file was changed or belongs "
                              "to another card: reinstall or re-export the bundle")
        inputs = card.get("inputs", {})
        if (inputs.get("channels") != list(CHANNELS) or inputs.get("grid_size") != GRID_Q.size
                or not np.isclose(inputs.get("grid_q_min", 0), GRID_Q[0])
                or not np.isclose(inputs.get("grid_q_max", 0), GRID_Q[-1])):
            raise BundleError(f"model card {card_path} expects another input grid than this package "
                              "provides: use a bundle exported with this version")
        for key in ("classes", "temperature", "ood", "confidence"):
            if key not in card:
                raise BundleError(f"model card {card_path} lacks '{key}': re-export the bundle")
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            session = ort.InferenceSession(onnx_path, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BundleError(f"onnxruntime cannot load {onnx_path}: {exc}") from None
        _check_card_matches_network(card, card_path, onnx_path, session)
        return cls(card, card_path, onnx_path, session)

    @property
    def classes(self) -> list[str]:
        return list(self.card["classes"])

    def run(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """Every output of the network (logits (B, K), embedding (B, E), params (B, S) where the
        bundle has them) for a float32 batch (B, C, G)."""
        names = [o.name for o in self.session.get_outputs()]
        values = self.session.run(names, {"features": np.ascontiguousarray(features, np.float32)})
        return dict(zip(names, values))
