"""Column files (text, CSV): what their header states and sasdata ignores (issue 26).

Header-declared q units, slit lengths, the CLI's --q-unit/--slit-length, and the rows with
NaN/inf that the loader drops. The files are written here from one curve (examples/sphere_saxs.txt,
q in 1/A) so that each spelling is checked against the same data read in 1/A."""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest

from sasview_automodel import InputError
from sasview_automodel.cli import main as cli_main
from sasview_automodel.curve import load_file, scan_column_file
from tests.conftest import EXAMPLES

SPHERE = os.path.join(EXAMPLES, "sphere_saxs.txt")


def _columns():
    return np.loadtxt(SPHERE).T  # q (1/A), I, dI, dQ


def _write(path, header_lines, scale=10.0, sep=" ", columns=3):
    q, i, di, dq = _columns()
    rows = [sep.join(f"{v:.6e}" for v in (a * scale, b, c, d * scale)[:columns]) for a, b, c, d in zip(q, i, di, dq)]   # dQ in the unit of q
    path.write_text("\n".join([*header_lines, *rows]) + "\n")
    return str(path)


NM_HEADERS = [
    ["# Q_unit: 1/nm"], ["# q unit = nm^-1", "# q I dI"], ["Q [1/nm]  I  dI"], ["q(nm^-1) I(a.u.) dI"],
    ["# Q (1/nm)   I   sigma"], ["#  q_nm^-1   I   sigma"], ["# Unit: q_nm^-1"], ["# Q_UNIT: 1/NM"],
    ["q / nm-1, I, dI"],
]
A_HEADERS = [["# Q_unit: 1/A"], ["Q [1/A] I dI"], ["q(A^-1) I dI"], ["# Q (Å^-1) I dI"], ["# q_A^-1 I sigma"],
             ["# q units: Å⁻¹"], ["Q [1/ANGSTROM] I dI"]]


@pytest.mark.parametrize("header", NM_HEADERS, ids=lambda h: h[0])
def test_header_states_1_over_nm(tmp_path, header):
    (c,) = load_file(_write(tmp_path / "nm.txt", header))
    (ref,) = load_file(SPHERE)
    assert c.q_unit_used == "1/nm" and c.q_unit_origin == "header"
    assert np.allclose(c.q, ref.q, rtol=1e-6)
    assert any("q in 1/nm, as the file's header states" in w for w in c.warnings)
    assert not any("looks like 1/nm" in w for w in c.warnings)  # no guessing when the file says


@pytest.mark.parametrize("header", A_HEADERS, ids=lambda h: h[0])
def test_header_states_1_over_a(tmp_path, header):
    (c,) = load_file(_write(tmp_path / "a.txt", header, scale=1.0))
    assert c.q_unit_used == "1/A" and c.q_unit_origin == "header"
    assert any("q in 1/A, as the file's header states" in w for w in c.warnings)


def test_csv_column_header(tmp_path):
    (c,) = load_file(_write(tmp_path / "nm.csv", ["q(nm^-1),I,dI"], sep=","))
    assert c.q_unit_used == "1/nm"


def test_same_answer_in_1_over_nm_and_1_over_a(tmp_path, suggester):
    (a,) = suggester.suggest_file(SPHERE)
    (nm,) = suggester.suggest_file(_write(tmp_path / "nm.txt", ["# Q [1/nm] I dI dQ"], columns=4))
    assert nm.q_unit_used == "1/nm" and a.q_unit_used == "1/A"
    assert nm.best == a.best
    assert dict(nm.ranking)[a.best] == pytest.approx(dict(a.ranking)[a.best], abs=1e-3)
    assert nm.to_dict()["q_unit_used"] == "1/nm"


def test_q_unit_argument_overrides_the_header(tmp_path):
    path = _write(tmp_path / "nm.txt", ["# Q_unit: 1/nm"])
    (c,) = load_file(path, q_unit="A")
    assert c.q_unit_used == "1/A" and c.q_unit_origin == "given"
    assert any("although the file's header states 1/nm" in w for w in c.warnings)
    (c,) = load_file(path, q_unit="nm")
    assert c.q_unit_used == "1/nm" and not any("although" in w for w in c.warnings)


def test_no_unit_anywhere_keeps_the_plausibility_guess(tmp_path):
    (c,) = load_file(_write(tmp_path / "plain.txt", ["# I measured this"], scale=10.0))
    assert c.q_unit_used == "1/A" and c.q_unit_origin == "assumed"
    assert any("looks like 1/nm" in w for w in c.warnings)


@pytest.mark.parametrize("header, phrase", [
    (["# Q_unit: 1/nm", "Q [1/A] I dI"], "both in 1/A and in 1/nm"),
    (["Q [1/m] I dI"], "neither 1/A nor 1/nm"),
    (["# q_unit: mm^-1"], "neither 1/A nor 1/nm"),
    (["#  2th_deg   I   sigma"], "not q"),
])
def test_header_problems_are_clear_errors(tmp_path, header, phrase):
    path = _write(tmp_path / "bad.txt", header)
    with pytest.raises(InputError, match=phrase):
        load_file(path)
    if "2th" not in header[0]:
        (c,) = load_file(path, q_unit="nm")  # the user's unit settles it
        assert c.q_unit_used == "1/nm"


def test_words_in_brackets_are_no_unit(tmp_path):
    (c,) = load_file(_write(tmp_path / "words.txt", ["# Q (scattering vector)  I (intensity)"], scale=1.0))
    assert c.q_unit_origin == "assumed"


@pytest.mark.parametrize("header, expected", [
    (["# Q_unit: 1/A", "# slit_length: 0.05"], 0.05),
    (["# dQl = 0.05"], 0.05),
    (["# Q [1/nm]", "# Slit length [1/nm]: 0.5"], 0.05),
    (["# Q [1/nm]", "# dQl: 0.5"], 0.05),            # in the unit of q
    (["# slit length 0.02 1/nm", "# Q [1/A]"], 0.002),
    (["# SLIT_LENGTH = 5e-2"], 0.05),
])
def test_slit_length_from_the_header(tmp_path, header, expected):
    scale = 10.0 if any("nm]" in h for h in header) else 1.0
    (c,) = load_file(_write(tmp_path / "slit.txt", header, scale=scale, columns=4))
    assert c.slit_length == pytest.approx(expected)
    assert c.dq is None  # slit replaces the pinhole column
    assert any("slit-smeared: slit length" in w for w in c.warnings)


def test_slit_length_argument_overrides(tmp_path):
    path = _write(tmp_path / "slit.txt", ["# Q [1/nm]", "# dQl: 0.5"])
    (c,) = load_file(path, slit_length=1.0)       # 1.0 1/nm
    assert c.slit_length == pytest.approx(0.1)
    (c,) = load_file(SPHERE, slit_length=0.03)    # 1/A file
    assert c.slit_length == pytest.approx(0.03) and c.dq is None
    with pytest.raises(InputError, match="positive"):
        load_file(SPHERE, slit_length=-1)


def test_slit_words_without_a_number_are_no_slit(tmp_path):
    (c,) = load_file(_write(tmp_path / "s.txt", ["# slit smeared data from a Kratky camera"], scale=1.0))
    assert c.slit_length is None


def test_nonfinite_rows_are_counted(tmp_path):
    q, i, di, _ = _columns()
    rows = [f"{a} {b} {c}" for a, b, c in zip(q, i, di)]
    rows[10] = f"nan {i[10]} {di[10]}"
    rows[20] = f"{q[20]} inf {di[20]}"
    rows[30] = f"{q[30]} {i[30]} NaN"
    path = tmp_path / "nan.txt"
    path.write_text("# Q(1/A) I dI\n" + "\n".join(rows) + "\n")
    scan = scan_column_file(str(path))
    assert scan.nonfinite_rows == 3 and scan.nonfinite == {"q": 1, "I": 1, "dI": 1}
    (c,) = load_file(str(path))
    assert c.q.size == q.size - 3
    assert c.warnings[0].startswith(f"3 of {q.size} data rows hold NaN or infinite values (q: 1, I: 1, dI: 1; "
                                    "first at line 12) and were dropped")


def test_cli_json_and_table(tmp_path, capsys):
    nm = _write(tmp_path / "nm.txt", ["# Q_unit: 1/nm"])
    before = hashlib.sha256(open(nm, "rb").read()).hexdigest()
    assert cli_main(["suggest", nm, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["q_unit_used"] == "1/nm"
    assert any("header states" in w for w in out["warnings"])
    assert cli_main(["suggest", nm, "--json", "--q-unit", "A"]) == 0
    assert json.loads(capsys.readouterr().out)["q_unit_used"] == "1/A"
    assert cli_main(["suggest", nm, "--slit-length", "0.5"]) == 0
    assert "slit" not in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli_main(["suggest", nm, "--slit-length", "-2"])
    assert exc.value.code == 2
    assert "positive" in capsys.readouterr().err
    assert hashlib.sha256(open(nm, "rb").read()).hexdigest() == before  # never altered


def test_batch_takes_slit_length(tmp_path, capsys):
    nm = _write(tmp_path / "nm.txt", ["# Q_unit: 1/nm"])
    out = tmp_path / "r.json"
    assert cli_main(["batch", nm, "--out", str(out), "--workers", "1", "--quiet", "--slit-length", "0.5"]) == 0
    (row,) = json.loads(out.read_text())
    assert row["q_unit_used"] == "1/nm" and not row["error"]
    from sasview_automodel.batch import run_batch
    (plain,) = run_batch([nm], workers=1, progress=False)
    assert row["ranking"] != plain["ranking"]  # the slit reached the classifier
