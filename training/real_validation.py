"""Score a bundle on measured curves: the real validation set (issue 24, item 1).

    python -m training.real_validation [--fetch] [--card CARD] [--json OUT] [--write-docs | --no-docs]

The set is ``training/real_data/manifest.csv``: one row per measured curve (file, package it ships
in, source, q unit, label, the models its documented fit treats as equivalent, structure factor,
the evidence for the label, sha256 of the file). Every file comes from a package on PyPI: it is
looked up in the installed package first (SasView is installed by ``make test``), then in the
cache ``data/real/`` (git-ignored); ``--fetch`` downloads the pinned wheels there with pip
(``pip download --no-deps``) and extracts only the manifest's files. Every file's sha256 is checked
before it is scored; a file that differs is refused, never re-hashed.

What it is for: validation and model selection only. It is never trained on, nothing is tuned per
file, and every ship decision reports it next to the simulated figures.

Metrics. *In-catalog* curves (``kind`` dilute or concentrated) have a catalog label: top-1 and
top-3, strict (the label) and with equivalents (the label or a model its documented fit treats as
equivalent), flagged (the outlier flag, should be rare), mean confidence. *Non-particle* curves
(``kind`` non_particle, label ``outside``: polymer blends and solutions, lamellar and Bragg peaks,
powders, magnetic microstructure) should be flagged. Concentrated curves also score the structure
factor (one is suggested; the suggested one is among the expected ones). A curve the classifier
refuses (too little q coverage) counts as wrong and not flagged, and is listed.

Without ``--card`` the shipped bundle is scored and the marked section of docs/evaluation.md is
rewritten (``--no-docs`` skips that); with ``--card`` the docs are left alone unless
``--write-docs`` is given. ``--json OUT`` writes every figure and per-curve answer, so that two
bundles can be compared.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

from sasview_automodel.bundle import file_sha256   # the bundle's checksum, 1 MB blocks

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MANIFEST = os.path.join(HERE, "real_data", "manifest.csv")
CACHE = os.path.join(ROOT, "data", "real")
DOCS = os.path.join(ROOT, "docs", "evaluation.md")
BEGIN = "<!-- real-validation:begin (written by python -m training.real_validation; edit the manifest, not this) -->"
END = "<!-- real-validation:end -->"

# package (manifest column) -> (pip requirement, top-level import name or None when not importable)
PACKAGES = {
    "sasview": ("sasview==6.1.3", "sas"),
    "jscatter": ("jscatter==1.9.0.5", None),   # not imported: its data are read from the wheel
    "pysaxs": ("pysaxs==3.291", None),
}
# wheels hold the files at the same paths on every platform; a fixed target keeps pip from
# building an sdist on machines without a matching wheel
PIP_TARGET = ["--only-binary", ":all:", "--python-version", "3.11", "--implementation", "cp",
              "--platform", "manylinux_2_34_x86_64", "--platform", "any"]

COLUMNS = ("id", "package", "path", "entry", "format", "q_unit", "source", "kind", "label", "equivalents",
           "structure_factor", "evidence", "sha256")
KINDS = ("dilute", "concentrated", "non_particle")
OUTSIDE = "outside"
FORMATS = ("sasdata", "columns", "pysaxs_xml")


# -- manifest -------------------------------------------------------------------------------
def _split(v: str) -> list[str]:
    return [x.strip() for x in (v or "").split(";") if x.strip()]


def load_manifest(path: str = MANIFEST) -> list[dict]:
    """Rows of the manifest (comment lines start with '#'), with list columns split on ';'."""
    with open(path, newline="") as f:
        lines = [ln for ln in f if not ln.lstrip().startswith("#")]
    rows = []
    for r in csv.DictReader(lines):
        r = {k: (v or "").strip() for k, v in r.items()}
        r["equivalents"] = _split(r["equivalents"])
        r["structure_factor"] = _split(r["structure_factor"])
        rows.append(r)
    return rows


def check_manifest(rows: list[dict], classes=None, sq_names=None) -> list[str]:
    """Problems with the manifest's schema (empty list: none)."""
    from sasview_automodel import catalog

    classes = set(classes or catalog.CLASS_NAMES)
    sq_names = set(sq_names or catalog.SQ_NAMES)
    problems, seen = [], set()
    for r in rows:
        rid = r.get("id", "?")
        missing = [c for c in COLUMNS if c not in r]
        if missing:
            problems.append(f"{rid}: missing columns {missing}")
            continue
        if rid in seen:
            problems.append(f"{rid}: duplicate id")
        seen.add(rid)
        if r["package"] not in PACKAGES:
            problems.append(f"{rid}: unknown package {r['package']!r}")
        if r["format"] not in FORMATS:
            problems.append(f"{rid}: unknown format {r['format']!r}")
        if r["q_unit"] not in ("A", "nm"):
            problems.append(f"{rid}: q_unit must be A or nm, not {r['q_unit']!r}")
        if r["kind"] not in KINDS:
            problems.append(f"{rid}: kind must be one of {KINDS}")
        if r["kind"] == "non_particle":
            if r["label"] != OUTSIDE or r["equivalents"]:
                problems.append(f"{rid}: a non-particle curve is labelled '{OUTSIDE}' without equivalents")
        elif r["label"] not in classes:
            problems.append(f"{rid}: label {r['label']!r} is not a catalog model")
        bad = [e for e in r["equivalents"] if e not in classes or e == r["label"]]
        if bad:
            problems.append(f"{rid}: equivalents {bad} are not other catalog models")
        if r["kind"] == "concentrated" and not r["structure_factor"]:
            problems.append(f"{rid}: a concentrated curve names its structure factor(s)")
        if r["kind"] != "concentrated" and r["structure_factor"]:
            problems.append(f"{rid}: only concentrated curves name a structure factor")
        bad = [s for s in r["structure_factor"] if s not in sq_names]
        if bad:
            problems.append(f"{rid}: structure factors {bad} are not in the catalog {sorted(sq_names)}")
        if not re.fullmatch(r"[0-9a-f]{64}", r["sha256"]):
            problems.append(f"{rid}: sha256 must be 64 hex digits")
        if len(r["evidence"]) < 20:
            problems.append(f"{rid}: the evidence for the label is missing")
    return problems


# -- files ----------------------------------------------------------------------------------
def _installed_root(package: str) -> str | None:
    """The folder that holds the package's top-level module (site-packages), or None."""
    module = PACKAGES[package][1]
    if module is None:
        return None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.dirname(list(spec.submodule_search_locations)[0])


def locate(row: dict, cache: str = CACHE) -> tuple[str | None, str]:
    """(path of the manifest row's file with the right sha256 or None, where it was looked for)."""
    tried = []
    roots = [r for r in (_installed_root(row["package"]), os.path.join(cache, row["package"])) if r]
    for root in roots:
        p = os.path.join(root, *row["path"].split("/"))
        tried.append(p)
        if os.path.isfile(p) and file_sha256(p) == row["sha256"]:
            return p, p
    return None, " or ".join(tried)


def fetch(rows: list[dict], cache: str = CACHE, log=print) -> None:
    """Download the pinned wheels of the rows' packages with pip and extract only their files."""
    wanted: dict[str, set[str]] = {}
    for r in rows:
        if locate(r, cache)[0] is None:
            wanted.setdefault(r["package"], set()).add(r["path"])
    for package, paths in wanted.items():
        req = PACKAGES[package][0]
        with tempfile.TemporaryDirectory() as tmp:
            log(f"fetch: pip download --no-deps {req} ({len(paths)} files wanted)")
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *PIP_TARGET, req,
                            "-d", tmp], check=True)
            wheels = [f for f in os.listdir(tmp) if f.endswith(".whl")]
            if not wheels:
                raise SystemExit(f"fetch: pip gave no wheel for {req}")
            with zipfile.ZipFile(os.path.join(tmp, wheels[0])) as z:
                names = set(z.namelist())
                for p in sorted(paths):
                    if p not in names:
                        log(f"fetch: {p} is not in {wheels[0]}")
                        continue
                    dest = os.path.join(cache, package, *p.split("/"))
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                    with z.open(p) as src, open(dest, "wb") as out:
                        out.write(src.read())
    bad = [r["id"] for r in rows if locate(r, cache)[0] is None]
    if bad:
        raise SystemExit(f"fetch: {len(bad)} files still missing or with another sha256: {', '.join(bad)}")


# -- readers (the files as they ship; nothing is corrected per file) ------------------------
_NUMBER_ROW = re.compile(r"^\s*[-+0-9.]")


def _numeric_blocks(text: str) -> list[np.ndarray]:
    """Blocks of consecutive all-numeric rows (whitespace or comma separated)."""
    blocks, cur = [], []
    for line in text.splitlines():
        fields = line.replace(",", " ").split()
        row = None
        if fields and _NUMBER_ROW.match(line):
            try:
                row = [float(x) for x in fields]
            except ValueError:
                row = None
        if row is not None and (not cur or len(row) == len(cur[0])):
            cur.append(row)
            continue
        if len(cur) >= 5:
            blocks.append(np.asarray(cur))
        cur = [row] if row is not None else []
    if len(cur) >= 5:
        blocks.append(np.asarray(cur))
    return blocks


def read_columns(path: str, entry: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """q, I, sigma from a column file. ``entry``: 'cols=q:I[:dI]' (0-based column numbers, default 0:1:2) and
    'blocks=a+b' (numeric blocks joined, default the first) separated by ' '."""
    opts = dict(kv.split("=", 1) for kv in entry.split() if "=" in kv)
    cols = [int(c) for c in re.split(r"[:,]", opts.get("cols", "0:1:2"))]
    blocks = _numeric_blocks(open(path, encoding="latin-1").read())
    picked = [blocks[int(b)] for b in opts.get("blocks", "0").split("+")]
    data = np.concatenate(picked)
    data = data[np.argsort(data[:, cols[0]], kind="stable")]
    sigma = data[:, cols[2]] if len(cols) > 2 and data.shape[1] > cols[2] else None
    return data[:, cols[0]], data[:, cols[1]], sigma


def read_pysaxs_xml(path: str, entry: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """q, I, error of the dataset named ``entry`` in a pySAXS dataset XML file."""
    import xml.etree.ElementTree as ET

    for data in ET.parse(path).getroot().iter("data"):
        if data.get("name") == entry:
            def arr(tag):
                el = data.find(tag)
                return None if el is None or not (el.text or "").strip() else np.array(
                    [float(x) for x in el.text.replace("\n", " ").split(",") if x.strip()])
            q, i, e = arr("q"), arr("i"), arr("error")
            if e is not None and (len(e) != len(q) or np.any(e <= 0)):
                e = None   # pySAXS keeps fit residuals in 'error' for some entries: not uncertainties
            return q, i, e
    raise ValueError(f"{path}: no dataset named {entry!r}")


def load_curve(row: dict, path: str):
    """The row's curve as a sasview_automodel Curve, in the row's q unit."""
    from sasview_automodel.curve import load_file, make_curve

    if row["format"] == "sasdata":
        curves = load_file(path, q_unit=row["q_unit"])
        k = int(row["entry"] or 0)
        if k >= len(curves):
            raise ValueError(f"{row['id']}: entry {k} but the file holds {len(curves)} curves")
        c = curves[k]
        c.name = row["id"]
        return c
    reader = read_columns if row["format"] == "columns" else read_pysaxs_xml
    q, i, s = reader(path, row["entry"])
    if s is not None and (not np.all(np.isfinite(s)) or np.any(s[np.isfinite(s)] <= 0)):
        s = None if np.mean(np.isfinite(s) & (s > 0)) < 0.5 else np.where(np.isfinite(s) & (s > 0), s, np.nan)
    return make_curve(q, i, s, q_unit=row["q_unit"], name=row["id"], source=path)


# -- scoring --------------------------------------------------------------------------------
def score_row(s, row: dict, curve) -> dict:
    """One curve's answer and its outcome against the manifest's label."""
    res = s.suggest_curves([curve])[0]
    ranking = [m for m, _ in res.ranking]
    accept = {row["label"], *row["equivalents"]}
    sf = res.structure_factor
    out = {"top3": [(m, round(float(p), 4)) for m, p in res.ranking[:3]], "best": res.best,
           "confidence": float(res.confidence), "flagged": bool(res.outlier),
           "outlier_score": float(res.outlier_score),
           "structure_suggested": None if sf is None else sf.name,
           "p_structure": None if sf is None else float(sf.p_needed), "error": None}
    if row["kind"] != "non_particle":
        out.update(top1_strict=ranking[0] == row["label"], top1_equiv=ranking[0] in accept,
                   top3_strict=row["label"] in ranking[:3], top3_equiv=bool(accept & set(ranking[:3])))
    if row["kind"] == "concentrated" and sf is not None:
        out.update(structure_detected=sf.name is not None, structure_named=sf.name in row["structure_factor"])
    if row["kind"] == "dilute" and sf is not None:
        out.update(structure_none=sf.name is None)
    return out


def _failed(row: dict, msg: str) -> dict:
    out = {"top3": [], "best": None, "confidence": float("nan"), "flagged": False, "outlier_score": float("nan"),
           "structure_suggested": None, "p_structure": None, "error": msg}
    if row["kind"] != "non_particle":
        out.update(top1_strict=False, top1_equiv=False, top3_strict=False, top3_equiv=False)
    if row["kind"] == "concentrated":
        out.update(structure_detected=False, structure_named=False)
    return out


def _rate(results: list[dict], key: str) -> tuple[int, int]:
    vals = [r[key] for r in results if key in r]
    return int(sum(bool(v) for v in vals)), len(vals)


def summarize(rows: list[dict], results: list[dict]) -> dict:
    """Figures over groups: in_catalog (dilute + concentrated), dilute, concentrated, non_particle."""
    groups = {"in_catalog": [k for k, r in enumerate(rows) if r["kind"] != "non_particle"],
              "dilute": [k for k, r in enumerate(rows) if r["kind"] == "dilute"],
              "concentrated": [k for k, r in enumerate(rows) if r["kind"] == "concentrated"],
              "non_particle": [k for k, r in enumerate(rows) if r["kind"] == "non_particle"]}
    out = {}
    for g, idx in groups.items():
        res = [results[k] for k in idx]
        conf = [r["confidence"] for r in res if np.isfinite(r["confidence"])]
        d = {"n": len(res), "errors": sum(r["error"] is not None for r in res),
             "flagged": _rate(res, "flagged"), "mean_confidence": float(np.mean(conf)) if conf else float("nan")}
        for key in ("top1_strict", "top1_equiv", "top3_strict", "top3_equiv", "structure_detected",
                    "structure_named", "structure_none"):
            hit, n = _rate(res, key)
            if n:
                d[key] = (hit, n)
        out[g] = d
    return out


def per_source(rows: list[dict], results: list[dict]) -> dict:
    sources = sorted({r["source"] for r in rows})
    return {src: summarize([r for r in rows if r["source"] == src],
                           [res for r, res in zip(rows, results) if r["source"] == src]) for src in sources}


def evaluate(card: str | None = None, manifest: str = MANIFEST, cache: str = CACHE, ids=None, log=print) -> dict:
    """Score the bundle ``card`` (default: shipped) on the manifest's curves; every figure and answer."""
    from sasview_automodel import Suggester
    from sasview_automodel.errors import AutomodelError

    rows = load_manifest(manifest)
    if ids:
        rows = [r for r in rows if r["id"] in set(ids)]
    s = Suggester(card)
    problems = check_manifest(rows, s.classes, getattr(s, "structure_names", None) or None)
    if problems:
        raise SystemExit("manifest problems:\n  " + "\n  ".join(problems))
    results = []
    for r in rows:
        path, where = locate(r, cache)
        if path is None:
            raise SystemExit(f"{r['id']}: {r['path']} with sha256 {r['sha256'][:12]}... not found ({where}); "
                             "run with --fetch (downloads the pinned wheels with pip)")
        try:
            results.append(score_row(s, r, load_curve(r, path)))
        except AutomodelError as exc:
            results.append(_failed(r, str(exc).splitlines()[0][:160]))
    card_info = s.bundle.card
    return {"bundle": {"card": s.bundle.card_path, "name": card_info.get("name"), "version": card_info.get("version"),
                       "onnx_sha256": card_info.get("onnx_sha256")},
            "manifest_sha256": file_sha256(manifest),
            "summary": summarize(rows, results), "per_source": per_source(rows, results),
            "curves": [{"id": r["id"], "source": r["source"], "kind": r["kind"], "label": r["label"],
                        "equivalents": r["equivalents"], "structure_factor": r["structure_factor"], **res}
                       for r, res in zip(rows, results)]}


# -- report ---------------------------------------------------------------------------------
def _pct(pair) -> str:
    if not pair or not pair[1]:
        return "-"
    return f"{100 * pair[0] / pair[1]:.0f} % ({pair[0]}/{pair[1]})"


def markdown(result: dict, command: str) -> str:
    b, summ = result["bundle"], result["summary"]
    ic, np_, conc, dil = summ["in_catalog"], summ["non_particle"], summ["concentrated"], summ["dilute"]
    lines = [
        "## Real validation set (measured curves)", "",
        f"Produced by `{command}` for bundle `{b['name']}` {b['version']} (ONNX sha256 `{(b['onnx_sha256'] or '')[:16]}...`) "
        f"on the {len(result['curves'])} measured curves of `training/real_data/manifest.csv` (sha256 "
        f"`{result['manifest_sha256'][:16]}...`; sources, labels and their evidence are in the manifest and "
        "`training/real_data/README.md`). Validation and model selection only: never trained on, nothing tuned per "
        "file. *Equivalents*: the label or a model the curve's documented fit treats as equivalent. Goals (issue 24): "
        "top-1 with equivalents >= 70 %, top-3 >= 90 %, in-catalog flagged <= 25 %, non-particle flagged >= 70 %.", "",
        "| curves | n | top-1 strict | top-1 equiv. | top-3 strict | top-3 equiv. | flagged | mean confidence |",
        "|---|---|---|---|---|---|---|---|"]
    for name, d in (("in-catalog (dilute + concentrated)", ic), ("dilute", dil), ("concentrated", conc),
                    ("non-particle (should be flagged)", np_)):
        lines.append(f"| {name} | {d['n']} | {_pct(d.get('top1_strict'))} | {_pct(d.get('top1_equiv'))} | "
                     f"{_pct(d.get('top3_strict'))} | {_pct(d.get('top3_equiv'))} | {_pct(d['flagged'])} | "
                     f"{d['mean_confidence']:.2f} |")
    lines += ["", f"Structure factor on concentrated curves: one suggested on {_pct(conc.get('structure_detected'))}, "
                  f"an expected one named on {_pct(conc.get('structure_named'))}; dilute curves with none suggested: "
                  f"{_pct(dil.get('structure_none'))}. Refused curves (too little q coverage): "
                  f"{sum(d['errors'] for d in (dil, conc, np_))}.", "",
              "Per source:", "",
              "| source | in-catalog | top-1 equiv. | top-3 equiv. | in-catalog flagged | non-particle | non-particle flagged |",
              "|---|---|---|---|---|---|---|"]
    for src, d in result["per_source"].items():
        i, n = d["in_catalog"], d["non_particle"]
        lines.append(f"| {src} | {i['n']} | {_pct(i.get('top1_equiv'))} | {_pct(i.get('top3_equiv'))} | "
                     f"{_pct(i['flagged']) if i['n'] else '-'} | {n['n']} | {_pct(n['flagged']) if n['n'] else '-'} |")
    lines += ["", "Per curve (top-1 / top-3 marks count equivalents):", "",
              "| id | source | kind | label (equivalents) | S(q) expected | top-3 (probability) | S(q) suggested | "
              "confidence | flagged | top-1 | top-3 |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in result["curves"]:
        label = c["label"] + (f" ({', '.join(c['equivalents'])})" if c["equivalents"] else "")
        top = c["error"] if c["error"] else ", ".join(f"{m} ({p:.0%})" for m, p in c["top3"])
        mark = (lambda k: "" if k not in c else ("yes" if c[k] else "no"))
        conf = "-" if not np.isfinite(c["confidence"]) else f"{c['confidence']:.2f}"
        sq = "-" if c["structure_suggested"] is None and c["p_structure"] is None else (c["structure_suggested"] or "none")
        lines.append(f"| {c['id']} | {c['source']} | {c['kind']} | {label} | {' or '.join(c['structure_factor']) or '-'} | "
                     f"{top} | {sq} | {conf} | {'yes' if c['flagged'] else 'no'} | {mark('top1_equiv')} | "
                     f"{mark('top3_equiv')} |")
    return "\n".join(lines) + "\n"


def write_docs(section: str, path: str = DOCS) -> None:
    """Replace the marked section of ``path`` (append it, with its markers, when there is none)."""
    text = open(path).read() if os.path.exists(path) else ""
    block = f"{BEGIN}\n{section}{END}\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    with open(path, "w") as f:
        f.write(text)


def _jsonable(o):
    if isinstance(o, dict):
        return {k: _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, float) and not np.isfinite(o):
        return None
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    return o


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--card", "--bundle", dest="card", help="model card of the bundle to score (default: shipped)")
    ap.add_argument("--fetch", action="store_true", help="download missing files (pinned wheels, pip) into the cache")
    ap.add_argument("--cache", default=CACHE, help="where fetched files are kept (default data/real/)")
    ap.add_argument("--manifest", default=MANIFEST)
    ap.add_argument("--json", help="write every figure and per-curve answer to this JSON file")
    ap.add_argument("--ids", nargs="+", help="score only these manifest ids (figures then cover only them)")
    docs = ap.add_mutually_exclusive_group()
    docs.add_argument("--write-docs", action="store_true", help="rewrite the marked section of docs/evaluation.md")
    docs.add_argument("--no-docs", action="store_true", help="leave docs/evaluation.md alone")
    ap.add_argument("--docs", default=DOCS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    rows = load_manifest(args.manifest)
    if args.fetch:
        fetch(rows, args.cache)
    result = evaluate(args.card, args.manifest, args.cache, args.ids)
    command = "python -m training.real_validation" + (" --card CARD" if args.card else "")
    text = markdown(result, command)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(_jsonable(result), f, indent=1)
    if not args.ids and (args.write_docs or (args.card is None and not args.no_docs)):
        write_docs(text, args.docs)
        print(f"wrote the real-validation section of {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
