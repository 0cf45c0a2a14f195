"""A suggested structure factor in the outputs: the SasView line_dict and paste text (P@S rows in
the format FittingWidget.updateFromParameters / clipboard_paste read), the CLI table line, JSON.
Suggestions are built by hand: the shipped bundle has no structure-factor head."""
import json

import pytest

from sasview_automodel import cli
from sasview_automodel.errors import InputError
from sasview_automodel.sasview_format import fitting_line_dict, structure_rows
from sasview_automodel.suggest import StructureFactorSuggestion, Suggestion


def suggestion(structure):
    return Suggestion(ranking=[("sphere", 0.8), ("cylinder", 0.15), ("vesicle", 0.05)], confidence=0.9,
                      outlier=False, outlier_score=1.0, outlier_threshold=20.0,
                      parameters={"radius": 60.0, "radius_pd": 0.1},
                      candidate_parameters={"sphere": {"radius": 60.0, "radius_pd": 0.1},
                                            "cylinder": {"radius": 20.0, "length": 300.0, "radius_pd": 0.1}},
                      structure_factor=structure, name="conc")


HS = StructureFactorSuggestion("hardsphere", 0.87, 0.92, {"none": 0.08, "hardsphere": 0.87, "hayter_msa": 0.05},
                               0.25, "radius")


def test_p_at_s_line_dict_for_the_fitting_page():
    line = suggestion(HS).to_sasview()
    assert line["fitpage_model"] == ["sphere"] and line["model_name"] == ["sphere"]
    assert line["fitpage_structure"] == ["hardsphere"]
    assert line["volfraction"] == ["True", "0.25", "0.001", "0.6"]
    # choice rows carry the index as an integer text: SasView reads them with int(text, 0)
    assert line["radius_effective_mode"][:2] == ["False", "1"] and int(line["radius_effective_mode"][1], 0) == 1
    assert line["structure_factor_mode"][:2] == ["False", "0"]
    assert line["radius_effective"][0] == "False" and float(line["radius_effective"][1]) > 0
    assert line["radius"][:2] == ["True", "60.0"] and line["radius.width"][1] == "0.1"
    assert all(len(v) >= 4 for k, v in line.items() if not k.startswith(("fitpage_", "model_name", "polydisperse")))
    assert all(isinstance(v, str) for row in line.values() for v in row)


def test_each_candidate_gets_its_own_effective_radius_mode_and_s_rows():
    msa = StructureFactorSuggestion("hayter_msa", 0.7, 0.8, {}, 0.1, "radius")
    line = suggestion(msa).to_sasview("cylinder")
    assert line["fitpage_structure"] == ["hayter_msa"]
    assert line["radius_effective_mode"][1] == "2"          # "equivalent volume sphere" for cylinder@hayter_msa
    assert line["charge"] == ["False", "24.49", "1e-06", "200.0"]  # catalog mid value (geometric, 5-120), sasmodels limits
    assert {"temperature", "concentration_salt", "dielectconst"} <= set(line)


def test_square_well_volume_fraction_stays_inside_its_validity_limit():
    rows = structure_rows("sphere", "squarewell", 0.3)
    assert rows["volfraction"] == (True, 0.08, 0.001, 0.08)


def test_dilute_or_no_head_gives_the_plain_form_factor():
    for structure in (None, StructureFactorSuggestion(None, 0.9, 0.1, {"none": 0.9})):
        s = suggestion(structure)
        line = s.to_sasview()
        assert line["fitpage_structure"] == ["None"] and "volfraction" not in line
        assert s.structure_for("sphere") is None
    assert fitting_line_dict("sphere", "Sphere", structure_parameters={"volfraction": (True, 0.2, 0, 1)}) == \
        fitting_line_dict("sphere", "Sphere")  # rows without a structure factor are not sent


def test_paste_text_carries_the_structure_factor_rows():
    s = suggestion(HS)
    text = s.sasview_paste()
    rows = text.split(":")
    assert rows[0] == "sasview_parameter_values"
    assert "fitpage_structure,hardsphere" in rows and "volfraction,True,0.25,0.001,0.6" in rows
    # SasView's clipboard parser: split(":"), then split(","), key -> values
    parsed = {r.split(",")[0]: r.split(",")[1:] for r in rows[1:]}
    assert parsed == s.to_sasview()


def test_cli_table_and_json_show_the_structure_factor():
    d = suggestion(HS).to_dict()
    json.dumps(d)
    assert d["structure_factor"]["name"] == "hardsphere" and d["structure_factor"]["volfraction"] == 0.25
    table = cli._table(d, 3)
    assert ("structure factor:   concentrated: hard-sphere-like interactions suggested (p = 0.87); "
            "P@S with hardsphere, volfraction 0.25") in table
    dilute = cli._table(suggestion(StructureFactorSuggestion(None, 0.93, 0.07, {"none": 0.93})).to_dict(), 3)
    assert "structure factor:   dilute: no structure factor needed (p = 0.93)" in dilute
    assert "structure factor" not in cli._table(suggestion(None).to_dict(), 3)  # bundle without the head


def test_summary():
    assert HS.summary == "concentrated: hard-sphere-like interactions suggested (p = 0.87)"
    assert StructureFactorSuggestion(None, 0.93, 0.07).summary == "dilute: no structure factor needed (p = 0.93)"
    with pytest.raises(InputError, match="unknown structure factor 'hs'"):
        structure_rows("sphere", "hs")
    with pytest.raises(InputError, match="no P@S product for 'pearls'"):
        structure_rows("pearls", "hardsphere")
