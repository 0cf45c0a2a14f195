"""The shipped bundle: loads, verifies its checksum, refuses tampered or foreign bundles."""
import json
import os
import shutil

import numpy as np
import pytest

from sasview_automodel import grid
from sasview_automodel.bundle import ModelBundle, default_card_path
from sasview_automodel.catalog import CLASS_NAMES, REGRESSION_SLOTS
from sasview_automodel.errors import BundleError


@pytest.fixture()
def bundle_copy(tmp_path):
    card = default_card_path()
    src = os.path.dirname(card)
    for name in os.listdir(src):
        shutil.copy(os.path.join(src, name), tmp_path / name)
    return str(tmp_path / os.path.basename(card))


def test_shipped_bundle_loads_and_matches_the_catalog():
    b = ModelBundle.load()
    assert b.classes == list(CLASS_NAMES)
    assert b.card["inputs"]["channels"] == list(grid.CHANNELS)
    assert 0.2 < b.card["temperature"] < 10 and b.card["ood"]["threshold"] > 0
    assert np.array(b.card["ood"]["means"]).shape[0] == len(CLASS_NAMES)
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
    card = json.load(open(bundle_copy))
    card["ood"]["means"] = card["ood"]["means"][:3]
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
