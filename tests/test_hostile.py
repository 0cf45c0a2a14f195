"""Hostile input: every case ends in a Suggestion or an AutomodelError with a message; files untouched."""
import hashlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from sasview_automodel import AutomodelError, Suggestion
from tests.conftest import sphere_curve


def _files(tmp):
    q, i, s = sphere_curve()
    cases = {
        "empty.txt": b"",
        "binary.bin": bytes(range(256)) * 50,
        "text_words.txt": b"hello world\nthis is not data\n",
        "one_column.txt": b"\n".join(str(v).encode() for v in q),
        "header_only.csv": b"q,I,dI\n",
        "nan_rows.txt": "\n".join(f"{a} nan {c}" for a, c in zip(q, s)).encode(),
        "negative_q.txt": "\n".join(f"{-a} {b} {c}" for a, b, c in zip(q, i, s)).encode(),
        "zeros.txt": "\n".join(f"{a} 0 1" for a in q).encode(),
        "few_points.txt": "\n".join(f"{a} {b}" for a, b in zip(q[:4], i[:4])).encode(),
        "duplicate_q.txt": "\n".join(f"{a} {b}" for a, b in zip(np.r_[q, q], np.r_[i, i])).encode(),
        "unsorted.txt": "\n".join(f"{a} {b} {c}" for a, b, c in zip(q[::-1], i[::-1], s[::-1])).encode(),
        "nm_scale.txt": "\n".join(f"{a * 100} {b}" for a, b in zip(q, i)).encode(),
        "broken.xml": b"<?xml version='1.0'?><SASroot><SASentry><SASdata>",
        "broken.h5": b"\x89HDF\r\n\x1a\n" + b"\x00" * 100,
        "huge_values.txt": "\n".join(f"{a} {b * 1e300} {c * 1e300}" for a, b, c in zip(q, i, s)).encode(),
        "tiny_values.txt": "\n".join(f"{a} {b * 1e-300} {c * 1e-300}" for a, b, c in zip(q, i, s)).encode(),
        "good.txt": "\n".join(f"{a} {b} {c}" for a, b, c in zip(q, i, s)).encode(),
    }
    paths = {}
    for name, data in cases.items():
        p = tmp / name
        p.write_bytes(data)
        paths[name] = str(p)
    return paths


def _sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_hostile_files_end_in_a_result_or_a_clear_error(tmp_path, suggester):
    paths = _files(tmp_path)
    before = {p: _sha(p) for p in paths.values()}
    listing = sorted(os.listdir(tmp_path))
    outcomes = {}
    for name, path in paths.items():
        try:
            res = suggester.suggest_file(path)
            assert all(isinstance(r, Suggestion) for r in res)
            outcomes[name] = "ok"
        except AutomodelError as exc:
            assert len(str(exc)) > 20, name
            outcomes[name] = "error"
    assert outcomes["good.txt"] == "ok" and outcomes["unsorted.txt"] == "ok"
    for name in ("empty.txt", "binary.bin", "zeros.txt", "few_points.txt", "duplicate_q.txt", "negative_q.txt"):
        assert outcomes[name] == "error", name
    assert {p: _sha(p) for p in paths.values()} == before
    assert sorted(os.listdir(tmp_path)) == listing  # no temporary files left behind


def test_a_million_points_are_handled(suggester):
    q = np.geomspace(1e-3, 0.5, 1_000_000)
    x = q * 50
    i = (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2 + 1e-4
    res = suggester.suggest(q, i * (1 + 0.05 * np.random.default_rng(0).standard_normal(q.size)), sigma=0.05 * i)
    assert isinstance(res, Suggestion)


values = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(q=st.lists(values, min_size=0, max_size=60), i=st.lists(values, min_size=0, max_size=60),
       with_sigma=st.booleans())
def test_arbitrary_arrays_never_raise_anything_else(suggester, q, i, with_sigma):
    n = min(len(q), len(i))
    sigma = [abs(v) for v in i[:n]] if with_sigma else None
    try:
        res = suggester.suggest(q[:n], i[:n], sigma=sigma)
        assert isinstance(res, Suggestion)
    except AutomodelError as exc:
        assert str(exc)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(10, 500), qmin=st.floats(1e-5, 2.0), decades=st.floats(0.01, 4))
def test_random_windows_never_raise_anything_else(suggester, seed, n, qmin, decades):
    rng = np.random.default_rng(seed)
    q = np.geomspace(qmin, qmin * 10**decades, n)
    i = np.abs(rng.lognormal(0, 2, n))
    try:
        assert isinstance(suggester.suggest(q, i), Suggestion)
    except AutomodelError as exc:
        assert str(exc)
