"""The shipped bundle: loads, verifies its checksum, refuses tampered or foreign bundles."""
import json
import os
import shutil

import numpy as np
import pytest

from sasview_automodel import catalog, grid
from sasview_automodel.bundle import ModelBundle, ModelCard, default_card_path
from sasview_automodel.catalog import CLASS_NAMES, REGRESSION_SLOTS
from sasview_automodel.errors import BundleError
from sasview_automodel.scoring import CONFIDENCE_FEATURES, MAHALANOBIS_METHODS, uses_mahalanobis
from tests.conftest import EXAMPLES, edited_bundle


@pytest.fixture()
def bundle_copy(tmp_path):
    card = default_card_path()
    src = os.path.dirname(card)
    for name in os.listdir(src):
        shutil.copy(os.path.join(src, name), tmp_path / name)
    return str(tmp_path / os.path.basename(card))


def test_shipped_bundle_loads_and_matches_the_catalog():
    b = ModelBundle.load()
    card = b.model_card   # typed, parsed once: the runtime reads these fields, never the JSON again
    assert b.classes == list(CLASS_NAMES) == list(card.classes)
    assert b.card["inputs"]["channels"] == list(grid.CHANNELS) and b.card is card.raw
    assert 0.2 < card.temperature < 10 and card.temperature == b.card["temperature"]
    assert card.outliers.threshold == b.card["ood"]["threshold"] and card.outliers.method == b.card["ood"]["method_id"]
    assert card.confidence_weights.shape == (len(CONFIDENCE_FEATURES) + 1,)
    assert card.structure is None or set(card.structure.classes) <= set(catalog.SQ_NAMES)
    if card.outliers.uses_mahalanobis or card.outliers.means is not None:
        assert card.outliers.means.shape[0] == len(CLASS_NAMES)
    assert os.path.getsize(b.onnx_path) < 5e6  # small enough for git


@pytest.mark.parametrize("batch", [1, 7])
def test_onnx_has_a_dynamic_batch(batch):
    b = ModelBundle.load()
    out = b.run(np.zeros((batch, len(grid.CHANNELS), grid.GRID_SIZE), np.float32))
    assert out["logits"].shape == (batch, len(CLASS_NAMES)) and out["embedding"].shape[0] == batch
    assert out["params"].shape == (batch, len(REGRESSION_SLOTS))


def test_edited_onnx_is_refused_with_the_checksum(bundle_copy):
    card = json.load(open(bundle_copy))
    onnx = os.path.join(os.path.dirname(bundle_copy), card["onnx_file"])
    data = bytearray(open(onnx, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(onnx, "wb").write(bytes(data))
    with pytest.raises(BundleError, match="sha256") as err:
        ModelBundle.load(bundle_copy)
    assert onnx in str(err.value)


def test_card_of_another_format_is_refused(bundle_copy):
    card = json.load(open(bundle_copy))
    card["format"] = "sasview-automodel-card/0"
    json.dump(card, open(bundle_copy, "w"))
    with pytest.raises(BundleError, match="format"):
        ModelBundle.load(bundle_copy)


def test_card_with_another_grid_is_refused(bundle_copy):
    card = json.load(open(bundle_copy))
    card["inputs"]["grid_size"] = 128
    json.dump(card, open(bundle_copy, "w"))
    with pytest.raises(BundleError, match="input grid"):
        ModelBundle.load(bundle_copy)


def test_missing_or_garbled_card(tmp_path):
    with pytest.raises(BundleError, match="not found"):
        ModelBundle.load(str(tmp_path / "nope.card.json"))
    bad = tmp_path / "bad.card.json"
    bad.write_text("{not json")
    with pytest.raises(BundleError, match="JSON"):
        ModelBundle.load(str(bad))


def test_card_that_does_not_match_its_network_is_refused(bundle_copy):
    # Mahalanobis statistics for a 3-dimensional embedding: the network's is wider
    card = json.load(open(bundle_copy))
    card["ood"]["means"] = np.zeros((len(card["classes"]), 3)).tolist()
    card["ood"]["precision"] = np.eye(3).tolist()
    json.dump(card, open(bundle_copy, "w"))
    with pytest.raises(BundleError, match="does not match its network"):
        ModelBundle.load(bundle_copy)


def test_card_with_a_malformed_entry_is_refused(bundle_copy):
    card = json.load(open(bundle_copy))
    card["temperature"] = "abc"
    json.dump(card, open(bundle_copy, "w"))
    with pytest.raises(BundleError, match="malformed"):
        ModelBundle.load(bundle_copy)


def test_card_naming_an_unknown_structure_factor_is_refused(bundle_copy):
    from sasview_automodel import Suggester
    card = json.load(open(bundle_copy))
    card["structure"] = {"classes": ["hardsphere", "fractal_core_shell"], "temperature": 1.0}
    json.dump(card, open(bundle_copy, "w"))
    with pytest.raises(BundleError, match=r"structure factors \['fractal_core_shell'\] unknown"):
        Suggester(bundle_copy)


def test_knn_outlier_card_needs_the_knn_output_of_its_network(bundle_copy):
    """A card whose outlier score is the k-NN one, on a network without ``knn_distance``, is refused
    (whichever detector the shipped bundle uses: its output is removed, or the card is switched)."""
    import onnx
    from sasview_automodel.bundle import file_sha256
    card = json.load(open(bundle_copy))
    onnx_path = os.path.join(os.path.dirname(bundle_copy), card["onnx_file"])
    model = onnx.load(onnx_path)
    outputs = [o.name for o in model.graph.output]
    if "knn_distance" in outputs:
        del model.graph.output[outputs.index("knn_distance")]
        onnx.save(model, onnx_path)
        card["onnx_sha256"] = file_sha256(onnx_path)
    card["ood"]["method_id"] = "knn+msp"
    json.dump(card, open(bundle_copy, "w"))
    with pytest.raises(BundleError, match="knn_distance"):
        ModelBundle.load(bundle_copy)


def test_a_card_whose_score_needs_no_mahalanobis_statistics_never_reads_them(tmp_path, suggester):
    """The k-NN and max-softmax outlier scores never read the class means and precision matrix: the shipped card
    carries none (training/export.py writes them beside it), and a card with arbitrary ones of
    the right shape answers exactly as the shipped one."""
    import onnxruntime as ort

    from sasview_automodel import Suggester
    if suggester.outliers.uses_mahalanobis:
        pytest.skip("the shipped bundle's outlier score reads the Mahalanobis statistics")
    assert suggester.outliers.means is None and suggester.outliers.precision is None
    onnx_path = os.path.join(os.path.dirname(default_card_path()), "automodel.onnx")
    n_embed = next(o.shape[-1] for o in ort.InferenceSession(onnx_path).get_outputs() if o.name == "embedding")

    def add(card):
        card["ood"]["means"] = np.random.default_rng(0).normal(size=(len(card["classes"]), n_embed)).tolist()
        card["ood"]["precision"] = np.eye(n_embed).tolist()
    heavy = Suggester(edited_bundle(tmp_path, add))
    assert heavy.outliers.means is not None and heavy.outliers.means.shape[1] == n_embed
    for name in sorted(os.listdir(EXAMPLES)):
        if name.endswith((".txt", ".csv", ".xml")):
            path = os.path.join(EXAMPLES, name)
            assert [s.to_dict() for s in heavy.suggest_file(path)] == [s.to_dict() for s in suggester.suggest_file(path)]


@pytest.mark.parametrize("method", MAHALANOBIS_METHODS)
def test_a_mahalanobis_card_without_its_statistics_is_refused(bundle_copy, method):
    card = json.load(open(bundle_copy))
    card["ood"]["method_id"] = method
    card["ood"]["standardise"] = card["ood"]["standardise"] or [0.0, 1.0, 0.0, 1.0]
    card["ood"]["means"] = np.zeros((len(card["classes"]), 3)).tolist()
    card["ood"].pop("precision", None)
    json.dump(card, open(bundle_copy, "w"))
    with pytest.raises(BundleError, match="malformed entry.*precision"):
        ModelBundle.load(bundle_copy)


def test_export_writes_the_mahalanobis_statistics_only_for_methods_that_read_them():
    pytest.importorskip("torch")
    from sasview_automodel.scoring import OutlierModel
    from training.export import OOD_METHODS, ood_entry

    means, precision = np.arange(6.0).reshape(2, 3), np.eye(3)
    for method in OOD_METHODS:
        std = None if method == "mahalanobis" else (0.1, 0.2, 0.3, 0.4)
        model = OutlierModel(means, precision, 2.5, method, std)
        entry = json.loads(json.dumps(ood_entry(model, "words")))
        assert ("means" in entry and "precision" in entry) == uses_mahalanobis(method) == model.uses_mahalanobis
        back = OutlierModel.from_card(entry)   # what bundle.ModelCard reads
        assert (back.method, back.threshold, back.standardise) == (method, 2.5, std)
        assert (back.means is None) == (not uses_mahalanobis(method))
        if uses_mahalanobis(method):
            assert np.array_equal(back.means, means) and np.array_equal(back.precision, precision)


def test_the_card_is_read_once_and_typed(bundle_copy):
    card = ModelCard.read(bundle_copy)
    assert card.path == bundle_copy and card.onnx_file == "automodel.onnx" and len(card.onnx_sha256) == 64
    assert card.sets.classes == card.classes and card.name == card.raw.get("name")
    raw = json.load(open(bundle_copy))
    raw["classes"][0] = "fractal"
    json.dump(raw, open(bundle_copy, "w"))
    with pytest.raises(BundleError, match=r"classes \['fractal'\] unknown"):
        ModelBundle.load(bundle_copy)
