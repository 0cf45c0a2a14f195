import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # the training package lives beside the runtime package
os.environ.setdefault("SAS_OPENCL", "none")
EXAMPLES = os.path.join(ROOT, "examples")


@pytest.fixture(scope="session")
def suggester():
    from sasview_automodel import Suggester
    return Suggester()


@pytest.fixture(scope="session")
def example_files():
    return sorted(os.path.join(EXAMPLES, f) for f in os.listdir(EXAMPLES) if f.endswith((".txt", ".csv", ".xml")))


def sphere_curve(r=60.0, n=150, qmin=0.003, qmax=0.4, noise=0.03, seed=0):
    """Analytic sphere form factor with noise (independent of the training simulator)."""
    rng = np.random.default_rng(seed)
    q = np.geomspace(qmin, qmax, n)
    x = q * r
    i = (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2
    i = 100 * i / i[0] + 0.01
    sigma = noise * i + 1e-4
    return q, i * (1 + noise * rng.standard_normal(n)), sigma
