"""Run the shipped bundle on SasView's own example curves; write docs/known_examples.md.

    python -m training.known_examples [--out docs/known_examples.md]

These are *known examples*, not held-out data: real measurements and SasView's own test
curves, with what a SAS user would fit to them (from the file names, SasView's tutorials and
the literature). They show behaviour on real data, including what the classifier does not
model (polymers, aggregates). Concentrated samples name the structure factor a user would
reach for; the second table checks the structure-factor answer (issue 9).
"""
from __future__ import annotations

import argparse
import os
import sys

# file -> (form factor a user would fit, note); "X + S(q)" marks a concentrated sample and
# CONCENTRATED names the structure factor a user would fit to it.
EXPECTED = {
    "sphere_80.txt": ("sphere", "simulated, R = 80 A"),
    "sphere_60_q0_2.txt": ("sphere", "simulated, R = 60 A"),
    "PolySpheres.txt": ("sphere", "polydisperse spheres"),
    "100nmPinholeSphere.txt": ("sphere", "100 nm latex, pinhole SANS"),
    "100nmSpheresNodQ.txt": ("sphere", "100 nm latex, no dQ column"),
    "latex_smeared.xml": ("sphere", "latex, resolution-smeared SANS"),
    "1umSlitSmearSphere.ABS": ("sphere", "1 um spheres, slit-smeared USANS: features below the window"),
    "10000A_sphere_dsm.xml": ("sphere", "1 um sphere, desmeared"),
    "cyl_400_20.txt": ("cylinder", "simulated, L = 400 A, R = 20 A"),
    "cyl_400_40.txt": ("cylinder", "simulated, L = 400 A, R = 40 A"),
    "x_coreshell_1.txt": ("core_shell_sphere", "simulated core-shell"),
    "x_coreshell_2.txt": ("core_shell_sphere", "simulated core-shell"),
    "n_coreshell.txt": ("core_shell_sphere", "simulated core-shell"),
    "apoferritin.txt": ("vesicle", "protein shell around a (partly empty) core; core-shell sphere also used"),
    "conalbumin.txt": ("ellipsoid", "globular protein"),
    "Ludox_silica.xml": ("sphere + S(q)", "concentrated, charged silica: sphere@hardsphere or @hayter_msa"),
    "AOT_Microemulsion-Core_Contrast.xml": ("sphere + S(q)", "core contrast of droplets"),
    "AOT_Microemulsion-Drop_Contrast.xml": ("sphere + S(q)", "drop contrast"),
    "AOT_Microemulsion-Shell_Contrast.xml": ("vesicle + S(q)", "shell contrast: a thin shell"),
    "P123_D2O_10_percent.xml": ("core_shell_sphere + S(q)", "block-copolymer micelles, 10 %"),
    "P123_D2O_30_percent.xml": ("core_shell_sphere + S(q)", "micelles, 30 %: strong S(q)"),
    "hSDS_D2O_0p5_percent.xml": ("ellipsoid + S(q)", "SDS micelles, charged: hayter_msa"),
    "hSDS_D2O_2p0_percent.xml": ("ellipsoid + S(q)", "SDS micelles, charged: hayter_msa"),
    "ISIS_Polymer_Blend_TK49.xml": ("outside the catalog", "polymer blend (RPA)"),
    "rpa_igor.txt": ("outside the catalog", "polymer blend (RPA)"),
    "Alumina_usaxs.csv": ("outside the catalog?", "alumina powder, USAXS: aggregates / power law"),
    "testdata_line.txt": ("outside the catalog", "a straight line (test data)"),
}


CONCENTRATED = {
    "Ludox_silica.xml": ("hardsphere", "hayter_msa"),
    "AOT_Microemulsion-Core_Contrast.xml": ("hardsphere", "stickyhardsphere"),
    "AOT_Microemulsion-Drop_Contrast.xml": ("hardsphere", "stickyhardsphere"),
    "AOT_Microemulsion-Shell_Contrast.xml": ("hardsphere", "stickyhardsphere"),
    "P123_D2O_10_percent.xml": ("hardsphere",),
    "P123_D2O_30_percent.xml": ("hardsphere",),
    "hSDS_D2O_0p5_percent.xml": ("hayter_msa",),
    "hSDS_D2O_2p0_percent.xml": ("hayter_msa",),
}


def _structure(res) -> str:
    sf = res.structure_factor
    if sf is None:
        return "n/a (no structure head)"
    return f"{sf.name or 'none'} (P(S needed) {sf.p_needed:.0%})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join("docs", "known_examples.md"))
    ap.add_argument("--fit", action="store_true", help="also run the quick fit")
    args = ap.parse_args(argv)
    import sas
    from sasview_automodel import AutomodelError, Suggester

    folder = os.path.join(os.path.dirname(sas.__file__), "example_data", "1d_data")
    s = Suggester()
    lines = ["# SasView's example curves (known examples, not held-out data)", "",
             f"Produced by `python -m training.known_examples{' --fit' if args.fit else ''}` with bundle "
             f"`{s.bundle.card['name']}` {s.bundle.card['version']} (sha256 `{s.bundle.card['onnx_sha256'][:16]}...`) "
             f"on SasView {sas.__version__}'s `example_data/1d_data`. The *expected* column is what a SAS user "
             "would fit (file names, SasView tutorials); `+ S(q)` marks a concentrated sample, whose expected "
             "structure factors are listed in the second table.", "",
             "| file | expected | top-3 (probability) | structure factor | confidence | outlier | note |",
             "|---|---|---|---|---|---|---|"]
    hits = total = 0
    conc_lines, conc_form, conc_detected, conc_named, dilute_clean, n_dilute = [], 0, 0, 0, 0, 0
    for name, (expected, note) in EXPECTED.items():
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            continue
        try:
            res = s.suggest_file(path, fit=args.fit)[0]
        except AutomodelError as exc:
            lines.append(f"| {name} | {expected} | error: {exc} | | | | {note} |")
            continue
        top = ", ".join(f"{m} ({p:.0%})" for m, p in res.top(3))
        hits += expected == res.best
        total += expected in s.classes
        sf = res.structure_factor
        if expected in s.classes and sf is not None:
            n_dilute += 1
            dilute_clean += sf.name is None
        if name in CONCENTRATED and sf is not None:
            form = expected.split(" + ")[0]
            conc_form += form == res.best
            conc_detected += sf.name is not None
            conc_named += sf.name in CONCENTRATED[name]
            conc_lines.append(f"| {name} | {form} | {' or '.join(CONCENTRATED[name])} | {res.best} | {_structure(res)} | "
                              f"{'' if sf.volfraction is None else f'{sf.volfraction:.2f}'} |")
        lines.append(f"| {name} | {expected} | {top} | {_structure(res)} | {res.confidence:.0%} | "
                     f"{'yes' if res.outlier else 'no'} | {note} |")
    lines += ["", f"Top-1 equals the expected catalog model on {hits} of the {total} files whose expected model is in "
                  "the catalog (dilute samples)."]
    if conc_lines:
        lines += [f"On those dilute files, {dilute_clean} of {n_dilute} get no structure factor.", "",
                  "## Concentrated samples", "",
                  "| file | expected form | expected S(q) | suggested form | suggested S(q) | start volfraction |",
                  "|---|---|---|---|---|---|", *conc_lines, "",
                  f"Of {len(conc_lines)} concentrated files: form factor as expected on {conc_form}, a structure "
                  f"factor suggested on {conc_detected}, an expected one named on {conc_named}."]
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
