"""Make the bundled example curves (simulated by this project, fixed seeds).

    python examples/make_examples.py

Each curve is a sasmodels form factor with polydispersity, observed through a realistic
instrument (training/instrument.py) and written in a format SasView reads. The true model
is in the file name and header; the classifier never saw these parameter sets.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("SAS_OPENCL", "none")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from training.instrument import Instrument, observe
from training.simulate import Q_FINE, _kernel

HERE = os.path.dirname(os.path.abspath(__file__))

EXAMPLES = [
    # file, model, parameters, instrument
    ("sphere_saxs.txt", "sphere",
     dict(radius=85.0, sld=2.0, sld_solvent=0.0, radius_pd=0.08, radius_pd_type="schulz", radius_pd_n=35),
     Instrument("lab SAXS pinhole", 0.005, 0.45, 400, "linear", "pinhole", 0.03, 0.0, 0.0, 2e5, 1.0, 0.005,
                0.5, False, True, True, 0.12)),
    ("cylinder_sans.txt", "cylinder",
     dict(radius=22.0, length=600.0, sld=1.0, sld_solvent=6.3, radius_pd=0.12, radius_pd_type="gaussian", radius_pd_n=15),
     Instrument("SANS", 0.003, 0.35, 120, "log", "pinhole", 0.08, 0.0008, 0.0, 3e4, 1.5, 0.01,
                2.0, True, True, True, 0.8)),
    ("core_shell_sphere_saxs.csv", "core_shell_sphere",
     dict(radius=120.0, thickness=35.0, sld_core=1.0, sld_shell=4.0, sld_solvent=2.5, radius_pd=0.06,
          radius_pd_type="schulz", radius_pd_n=35),
     Instrument("synchrotron SAXS", 0.002, 0.25, 600, "log", "pinhole", 0.01, 0.0, 0.0, 1e6, 2.0, 0.003,
                1.0, False, True, True, 3.0)),
    ("vesicle_sans.txt", "vesicle",
     dict(radius=300.0, thickness=40.0, sld=0.5, sld_solvent=6.36, volfraction=1.0, radius_pd=0.15,
          radius_pd_type="schulz", radius_pd_n=35),
     Instrument("SANS", 0.0015, 0.2, 150, "log", "pinhole", 0.06, 0.0005, 0.0, 5e4, 1.5, 0.01,
                3.0, True, True, True, 50.0)),
    ("ellipsoid_sans.xml", "ellipsoid",
     dict(radius_polar=220.0, radius_equatorial=45.0, sld=1.0, sld_solvent=6.3, radius_equatorial_pd=0.1,
          radius_equatorial_pd_type="schulz", radius_equatorial_pd_n=15),
     Instrument("SANS", 0.002, 0.4, 140, "log", "pinhole", 0.05, 0.0006, 0.0, 1e5, 1.5, 0.01,
                1.0, True, True, True, 2.0)),
    ("hollow_cylinder_slit.xml", "hollow_cylinder",
     dict(radius=60.0, thickness=25.0, length=900.0, sld=3.0, sld_solvent=0.0, radius_pd=0.1,
          radius_pd_type="gaussian", radius_pd_n=9),
     Instrument("Kratky slit SAXS", 0.004, 0.5, 500, "linear", "slit", 0.0, 0.0, 0.04, 3e5, 1.0, 0.005,
                0.3, False, True, True, 1.0)),
    # a concentrated sample (issue 9): sphere@hardsphere, P*S, effective radius = the radius
    ("sphere_hardsphere_saxs.txt", "sphere@hardsphere",
     dict(radius=60.0, sld=2.0, sld_solvent=0.0, radius_pd=0.1, radius_pd_type="schulz", radius_pd_n=35,
          volfraction=0.3, radius_effective_mode=1, structure_factor_mode=0),
     Instrument("lab SAXS pinhole", 0.004, 0.45, 300, "linear", "pinhole", 0.03, 0.0, 0.0, 2e5, 1.0, 0.005,
                0.5, False, True, True, 0.05)),
]


def write_cansas(path: str, obs, title: str) -> None:
    """canSAS 1D XML through SasView's own writer (pinhole dQ or slit length dQl)."""
    from sasdata.dataloader.data_info import Data1D
    from sasdata.dataloader.readers.cansas_reader import Reader
    data = Data1D(x=obs.q, y=obs.intensity, dy=obs.sigma, dx=obs.dq)
    if obs.slit_length is not None:
        data.dxl = np.full(obs.q.size, obs.slit_length)
        data.dxw = np.zeros(obs.q.size)
    data.filename, data.title = os.path.basename(path), title
    data.xaxis("Q", "A^{-1}")
    data.yaxis("I", "cm^{-1}")
    Reader().write(path, data)


def main() -> None:
    for k, (fname, model, pars, inst) in enumerate(EXAMPLES):
        from sasmodels.direct_model import call_kernel
        i_fine = np.asarray(call_kernel(_kernel(model), dict(pars, scale=1.0, background=0.0)))
        obs = observe(Q_FINE, i_fine / i_fine[0], inst, np.random.default_rng(1000 + k))
        title = f"Simulated by sasview-automodel examples/make_examples.py: {model} {pars}; instrument {inst.family}"
        if fname.endswith(".xml"):
            write_cansas(os.path.join(HERE, fname), obs, title)
            print("wrote", fname)
            continue
        cols = [obs.q, obs.intensity, obs.sigma] + ([obs.dq] if obs.dq is not None else [])
        header = (f"{title}\nQ(1/A) I(1/cm) dI(1/cm)" + (" dQ(1/A)" if obs.dq is not None else ""))
        delim = "," if fname.endswith(".csv") else " "
        np.savetxt(os.path.join(HERE, fname), np.column_stack(cols), header=header, delimiter=delim, fmt="%.6e")
        print("wrote", fname)


if __name__ == "__main__":
    main()
