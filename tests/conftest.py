import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # the training package lives beside the runtime package
os.environ.setdefault("SAS_OPENCL", "none")
EXAMPLES = os.path.join(ROOT, "examples")


def pytest_collection_modifyitems(config, items):
    """Every test under tests/gui is a ``gui`` test (``make test-unit`` leaves them out)."""
    for item in items:
        if f"{os.sep}gui{os.sep}" in str(item.fspath):
            item.add_marker(pytest.mark.gui)


@pytest.fixture(scope="session")
def suggester():
    from sasview_automodel import Suggester
    return Suggester()


@pytest.fixture(scope="session")
def example_files():
    return sorted(os.path.join(EXAMPLES, f) for f in os.listdir(EXAMPLES) if f.endswith((".txt", ".csv", ".xml")))


def edited_bundle(tmp_path, edit) -> str:
    """A copy of the shipped bundle in ``tmp_path`` whose card ``edit(card)`` changed in place; its card path."""
    import json
    import shutil
    from sasview_automodel.bundle import default_card_path
    card_path = default_card_path()
    for name in os.listdir(os.path.dirname(card_path)):
        if name.startswith("automodel."):
            shutil.copy(os.path.join(os.path.dirname(card_path), name), tmp_path / name)
    card = json.load(open(card_path))
    edit(card)
    out = tmp_path / os.path.basename(card_path)
    json.dump(card, open(out, "w"))
    return str(out)


def sphere_curve(r=60.0, n=150, qmin=0.003, qmax=0.4, noise=0.03, seed=0):
    """Analytic sphere form factor with noise (independent of the training simulator)."""
    rng = np.random.default_rng(seed)
    q = np.geomspace(qmin, qmax, n)
    x = q * r
    i = (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2
    i = 100 * i / i[0] + 0.01
    sigma = noise * i + 1e-4
    return q, i * (1 + noise * rng.standard_normal(n)), sigma


def random_features(n: int, seed: int) -> np.ndarray:
    """(n, channels, grid) float32 network input of random values: a window of covered bins per curve
    (never empty: the runtime refuses such curves) with a few gaps; for tests of the network code."""
    from sasview_automodel.grid import CHANNELS, GRID_Q
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(CHANNELS), GRID_Q.size)).astype(np.float32)
    x[:, 1] = (rng.uniform(size=(n, GRID_Q.size)) < 0.9) & (np.arange(GRID_Q.size) > rng.integers(0, 100, (n, 1)))
    return x


def same_result(a, b, tol: float = 2e-5) -> bool:
    """Two result dicts agree: same models in the same order, numbers within ``tol`` (float32
    network outputs differ in the last digits with the batch size onnxruntime is given)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_result(a[k], b[k], tol) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_result(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= tol * max(1.0, abs(float(a)))
    return a == b
