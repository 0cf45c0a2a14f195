"""The real validation set (training/real_validation.py, training/real_data/manifest.csv).

The schema test needs nothing but the manifest. The sha256 and scoring tests need the files: SasView's
come from the installed sasview package (``make test`` installs 6.1.3), the others from the cache
``data/real/`` that ``python -m training.real_validation --fetch`` fills; a file that is neither
installed nor fetched skips its test with the reason (no network is used here).
"""
from __future__ import annotations

import os

import pytest

from training import real_validation as rv


@pytest.fixture(scope="module")
def rows():
    return rv.load_manifest()


def test_manifest_schema(rows):
    assert rv.check_manifest(rows) == []
    assert len(rows) >= 30
    assert len({r["source"] for r in rows}) >= 4
    assert len({r["package"] for r in rows}) >= 3
    kinds = {k: sum(r["kind"] == k for r in rows) for k in rv.KINDS}
    assert kinds["non_particle"] >= 10 and kinds["concentrated"] >= 3 and kinds["dilute"] >= 10
    # one curve per (file, entry): no curve counted twice
    assert len({(r["package"], r["path"], r["entry"]) for r in rows}) == len(rows)


def test_check_manifest_catches_bad_rows(rows):
    bad = dict(rows[0], label="lamellar", sha256="xyz", equivalents=["sphere", "nothing"])
    problems = rv.check_manifest([bad])
    assert any("not a catalog model" in p for p in problems)
    assert any("sha256" in p for p in problems)
    assert any("equivalents" in p for p in problems)
    conc = dict(next(r for r in rows if r["kind"] == "concentrated"), structure_factor=[])
    assert any("structure factor" in p for p in rv.check_manifest([conc]))


def test_simulated_files_stay_out(rows):
    # SasView's documented simulations (and model curves) are not measured curves
    simulated = {"1umSlitSmearSphere.ABS", "100nmPinholeSphere.txt", "100nmSpheresNodQ.txt", "10000A_sphere_dsm.xml",
                 "sphere_80.txt", "cyl_400_20.txt", "x_coreshell_1.txt", "smearedSASdata.dat", "exampledata.dat"}
    assert not simulated & {os.path.basename(r["path"]) for r in rows}


def _available(rows):
    found = {r["id"]: rv.locate(r)[0] for r in rows}
    return found


def test_sha256_of_available_files(rows):
    found = _available(rows)
    if not any(found.values()):
        pytest.skip("no manifest file is installed or fetched (install sasview 6.1.3 or run "
                    "python -m training.real_validation --fetch)")
    for r in rows:
        for root in (rv._installed_root(r["package"]), os.path.join(rv.CACHE, r["package"])):
            p = root and os.path.join(root, *r["path"].split("/"))
            if p and os.path.isfile(p):
                assert rv.file_sha256(p) == r["sha256"], f"{r['id']}: {p} differs from the manifest"


def test_scorer_on_a_few_curves(rows, tmp_path):
    found = _available(rows)
    ids = [i for i in ("apoferritin", "ludox", "blend_tk49", "latex_usans") if found.get(i)]
    if len(ids) < 4:
        pytest.skip("SasView's example data are not installed (make test installs sasview 6.1.3)")
    man = tmp_path / "manifest.csv"
    import csv

    with open(man, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rv.COLUMNS))
        w.writeheader()
        for r in rows:
            if r["id"] in ids:
                w.writerow(dict(r, equivalents=";".join(r["equivalents"]),
                                structure_factor=";".join(r["structure_factor"])))
    result = rv.evaluate(manifest=str(man))
    summ = result["summary"]
    assert summ["in_catalog"]["n"] == 3 and summ["non_particle"]["n"] == 1 and summ["concentrated"]["n"] == 1
    for key in ("top1_strict", "top1_equiv", "top3_strict", "top3_equiv"):
        hit, n = summ["in_catalog"][key]
        assert n == 3 and 0 <= hit <= n
    assert summ["non_particle"]["flagged"][1] == 1
    assert "structure_detected" in summ["concentrated"]
    assert {c["id"] for c in result["curves"]} == set(ids)
    c = next(c for c in result["curves"] if c["id"] == "apoferritin")
    assert c["top1_strict"] <= c["top1_equiv"] <= c["top3_equiv"]
    text = rv.markdown(result, "python -m training.real_validation")
    assert "| apoferritin |" in text and "Per source" in text
    # the docs writer replaces only its marked section
    doc = tmp_path / "evaluation.md"
    doc.write_text("# head\n\nkept\n")
    rv.write_docs(text, str(doc))
    rv.write_docs(text.replace("Per source", "Per SOURCE"), str(doc))
    out = doc.read_text()
    assert out.startswith("# head\n\nkept\n") and out.count(rv.BEGIN) == 1 and "Per SOURCE" in out


def test_column_readers(tmp_path):
    p = tmp_path / "two_blocks.dat"
    p.write_text("@name a\nTemp 20\n" + "".join(f"{0.1 * k} {10.0 / k} 0.1\n" for k in range(1, 8)) +
                 "@name b\n" + "".join(f"{0.01 * k} {100.0 / k} 1\n" for k in range(1, 8)))
    q, i, s = rv.read_columns(str(p), "blocks=0+1 cols=0:1:2")
    assert len(q) == 14 and q[0] == pytest.approx(0.01) and s is not None
    q, i, s = rv.read_columns(str(p), "cols=0:1")
    assert len(q) == 7 and s is None
