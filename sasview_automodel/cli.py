"""Command line: ``sasview-automodel suggest FILE... [--json] [--top K] [--q-unit A|nm]``, ``batch``,
``bench``, ``info``, ``gui`` and ``plugin enable|disable|status|bundle``."""
from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__
from .errors import AutomodelError

BAR = 24


def _table(result: dict, top: int) -> str:
    lines = [f"{result['name']}" + (f"  ({result['file']})" if result.get("file") and result["file"] != result["name"] else "")]
    for k, r in enumerate(result["ranking"][:top], 1):
        bar = "#" * int(round(r["probability"] * BAR))
        lines.append(f"  {k}. {r['model']:<22s} {r['probability']:6.1%}  {bar}")
    if result.get("fit"):
        lines.append("  after a quick fit:  " + ", ".join(
            f"{r['model']} {r['weight']:.0%} (chi2 {result['fit']['candidates'][r['model']]['chi2_reduced']:.3g})"
            for r in result["fit"]["ranking"]))
    if result.get("parameters"):
        lines.append("  starting values:    " + ", ".join(f"{k}={v:g}" for k, v in result["parameters"].items()))
    lines.append(f"  confidence {result['confidence']:.0%}" + ("   OUTLIER: " + result["reason"] if result["outlier"] else ""))
    if result.get("structure_factor"):
        lines.append("  " + _structure_line(result["structure_factor"]))
    lines += _family_lines(result)
    for w in result["warnings"]:
        lines.append(f"  note: {w}")
    return "\n".join(lines)


def _family_lines(result: dict) -> list[str]:
    """The shape family with its probability, the plausible models, and the plain-words note."""
    if not result.get("family"):
        return []
    from .catalog import family
    from .sets import family_note

    plausible = result.get("plausible_models") or []
    lines = [f"  family:             {family(result['family']).label} (p = {result['family_probability']:.2f})",
             f"  plausible models:   {', '.join(plausible)}"]
    note = family_note(result["family"], result["family_probability"], plausible)
    return lines + ([f"  {note}"] if note else [])


def _structure_line(sf: dict) -> str:
    """The structure-factor sentence with its probability (and the product and volume fraction)."""
    from .suggest import structure_summary

    line = "structure factor:   " + structure_summary(sf["sentence"], sf["probability"])
    if sf.get("name") and sf.get("volfraction") is not None:
        line += f"; P@S with {sf['name']}, volfraction {sf['volfraction']:.3g}"
    return line


def cmd_suggest(args) -> int:
    from .suggest import Suggester

    try:
        suggester = Suggester(args.model)
    except AutomodelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results, failed = [], 0
    for path in args.files:
        try:
            for s in suggester.suggest_file(path, q_unit=args.q_unit, fit=args.fit, slit_length=args.slit_length):
                results.append(s.to_dict(top=args.top if args.top else None))
                if args.sasview_paste:
                    results[-1]["sasview_paste"] = s.sasview_paste()
        except AutomodelError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            results.append({"file": path, "error": str(exc)})
    if args.sasview_paste:
        for r in results:
            if "error" not in r:
                print(r["sasview_paste"])
    elif args.json:
        json.dump(results if len(args.files) > 1 or len(results) != 1 else results[0], sys.stdout, indent=1)
        print()
    else:
        ok = [r for r in results if "error" not in r]
        if ok:
            print("\n\n".join(_table(r, args.top or 3) for r in ok))
    return 1 if failed else 0


def cmd_batch(args) -> int:
    from .batch import expand_inputs, run_batch, summary, write_rows

    paths = expand_inputs(args.inputs)
    if not paths:
        print("error: no data files found in " + " ".join(args.inputs), file=sys.stderr)
        return 2
    try:
        rows = run_batch(paths, args.model, args.q_unit, args.top, args.workers, progress=not args.quiet,
                         slit_length=args.slit_length,
                         scheduler=args.scheduler)
    except AutomodelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_rows(rows, args.out, args.top)
    print(summary(rows))
    print(f"wrote {args.out}")
    return 0


def cmd_bench(args) -> int:
    """Run benchmarks/bench_suggest.py of the source checkout this package is imported from."""
    import runpy

    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "bench_suggest.py")
    if not os.path.isfile(script):
        print(f"error: `sasview-automodel bench` runs benchmarks/bench_suggest.py, which is not installed with the "
              f"package (not found: {script}): run it from a source checkout (git clone, pip install -e ., then "
              "`sasview-automodel bench` or `make bench`)", file=sys.stderr)
        return 2
    return runpy.run_path(script, run_name="bench_suggest")["main"](args.args, prog="sasview-automodel bench")


def run_gui(files: list[str], card_path: str | None = None) -> int:
    """``sasview-automodel gui [FILES]``: SasView's own start-up (``sas.cli.main``) running our
    launcher script, so SasView starts as ``sasview`` does, with the plugin; ``files`` go into the
    Data Explorer. ``card_path`` selects another model bundle (as ``$SASVIEW_AUTOMODEL_CARD``
    does). Returns SasView's exit status (2 if SasView is missing or a file does not exist)."""
    from .gui import deploy, host

    if not host.sasview_installed():
        print("error: SasView is not installed in this environment: pip install 'sasview>=6.1' "
              "(or pip install 'sasview-automodel[gui]')", file=sys.stderr)
        return 2
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if card_path:
        from .gui.logic import CARD_ENV
        os.environ[CARD_ENV] = os.path.abspath(card_path)
    return host.run_sasview_command([deploy.LAUNCHER, *[os.path.abspath(f) for f in files]])


def cmd_gui(args) -> int:
    return run_gui(args.files)


def cmd_plugin(args) -> int:
    from .gui import deploy
    if args.plugin_command == "enable":
        return deploy.cmd_enable(args.site_dir)
    if args.plugin_command == "disable":
        return deploy.cmd_disable(args.site_dir)
    if args.plugin_command == "status":
        return deploy.cmd_status(args.site_dir, args.json)
    return deploy.cmd_bundle(args.dir)


def cmd_info(args) -> int:
    from .bundle import ModelBundle

    try:
        bundle = ModelBundle.load(args.model)
    except AutomodelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    card = {k: v for k, v in bundle.card.items() if k != "ood"}
    card["ood"] = {k: v for k, v in bundle.card["ood"].items() if k not in ("means", "precision")}
    card["card_path"] = bundle.card_path
    if args.json:
        json.dump(card, sys.stdout, indent=1)
        print()
        return 0
    t = card["training"]
    print(f"sasview-automodel {__version__}, bundle {card['name']} {card['version']} ({card['created']})")
    print(f"card     {bundle.card_path}")
    print(f"onnx     {card['onnx_file']}  sha256 {card['onnx_sha256'][:16]}... (verified)")
    print(f"classes  {', '.join(card['classes'])}")
    i = card["inputs"]
    print(f"input    {i['grid_size']} log-q points {i['grid_q_min']:g}..{i['grid_q_max']:g} {i['q_unit']}, "
          f"channels {', '.join(i['channels'])}")
    print(f"calib.   temperature {card['temperature']:.3f}; outlier threshold {card['ood']['threshold']:.1f} "
          f"(TPR {card['ood']['tpr']:.0%})")
    print(f"training {t['database_curves']} simulated curves, {t['steps']} steps, {t['minutes']} min, "
          f"config hash {t['config_hash']}")
    for name, m in card.get("metrics", {}).items():
        print(f"metric   {name}: {m}")
    return 0


def _positive_float(text: str) -> float:
    """argparse type of --slit-length: one positive finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number: give the slit length in the unit of q, "
                                         "e.g. --slit-length 0.05") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r}: the slit length must be a positive number in the unit of q "
                                         "(omit --slit-length for pinhole data)")
    return value


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="sasview-automodel", description="Suggest sasmodels form factors for 1D SAS curves.")
    ap.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("suggest", help="rank the catalog models for each curve in the files")
    s.add_argument("files", nargs="+", metavar="FILE")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.add_argument("--top", type=int, default=0, help="show only the K best models (table default 3, JSON all)")
    s.add_argument("--slit-length", type=_positive_float, default=None, metavar="L",
                   help="the data are slit-smeared with slit length L, in the unit of q (overrides the file's)")
    s.add_argument("--q-unit", choices=["A", "nm"], default=None,
                   help="unit of q in column files (text, CSV): overrides their header (default: the header's unit, else "
                        "1/A); canSAS XML/NXcanSAS/ABS state their unit and keep it")
    s.add_argument("--model", help="model card of another bundle")
    s.add_argument("--fit", action=argparse.BooleanOptionalAction, default=False,
                   help="refine the top 3 candidates' parameters with a quick sasmodels fit; the ranking stays the classifier's, the fit evidence is reported (default: --no-fit)")
    s.add_argument("--sasview-paste", action="store_true",
                   help="print, per dataset, the text for Edit > Paste in a SasView fit page (best model)")
    s.set_defaults(func=cmd_suggest)
    b = sub.add_parser("batch", help="classify many files (folders, globs) into one CSV or JSON table")
    b.add_argument("inputs", nargs="+", metavar="PATH|DIR|GLOB")
    b.add_argument("--out", required=True, help="results.csv or results.json (written atomically)")
    b.add_argument("--top", type=int, default=3, help="models per row (default 3)")
    b.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="local worker processes (default: one per core; 1 = in this process)")
    b.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on an existing dask.distributed cluster (e.g. tcp://host:8786), or 'local' for a "
                        "dask LocalCluster of --workers processes; needs the [dask] extra")
    b.add_argument("--q-unit", choices=["A", "nm"], default=None,
                   help="unit of q in column files (overrides their header; default: the header's, else 1/A)")
    b.add_argument("--slit-length", type=_positive_float, default=None, metavar="L",
                   help="every file is slit-smeared with slit length L, in the unit of q (overrides the files')")
    b.add_argument("--model", help="model card of another bundle")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_batch)
    # benchmarks/bench_suggest.py parses the options (prefix "+": every "--option" is passed on to it)
    m = sub.add_parser("bench", add_help=False, prefix_chars="+",
                       help="measure speed (single curve, batch, files, memory, imports) and compare with fitting "
                            "all catalog models (from a source checkout; bench --help for the options)")
    m.add_argument("args", nargs=argparse.REMAINDER)
    m.set_defaults(func=cmd_bench)
    i = sub.add_parser("info", help="show the model card of the bundle")
    i.add_argument("--json", action="store_true")
    i.add_argument("--model", help="model card of another bundle")
    i.set_defaults(func=cmd_info)
    g = sub.add_parser("gui", help="start SasView with the model suggestion plugin")
    g.add_argument("files", nargs="*", metavar="FILE", help="data files to load into the Data Explorer")
    g.set_defaults(func=cmd_gui)
    p = sub.add_parser("plugin", help="deploy the SasView plugin: enable, disable, status, bundle (docs/install.md)",
                       description="Deploy the SasView plugin for facility staff (docs/install.md).")
    psub = p.add_subparsers(dest="plugin_command", required=True, metavar="{enable,disable,status,bundle}")
    for name, text in (("enable", "make the plain `sasview` of this environment load the plugin (every user)"),
                       ("disable", "remove what `plugin enable` wrote"),
                       ("status", "show whether the plain `sasview` of this environment loads the plugin")):
        d = psub.add_parser(name, help=text, description=text)
        d.add_argument("--site-dir", default=None, help="site-packages folder (default: this environment's)")
        if name == "status":
            d.add_argument("--json", action="store_true")
        d.set_defaults(func=cmd_plugin)
    bl = psub.add_parser("bundle", help="write DIR/launch.py for an official SasView bundle",
                         description="write DIR/launch.py for an official SasView bundle (docs/install.md)")
    bl.add_argument("dir", metavar="DIR")
    bl.set_defaults(func=cmd_plugin)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
