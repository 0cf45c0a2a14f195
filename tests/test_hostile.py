"""Hostile input: every case ends in a Suggestion or an AutomodelError with a message; files untouched."""
import hashlib
import os
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from sasview_automodel import AutomodelError, Suggestion
from tests.conftest import EXAMPLES, sphere_curve


def _files(tmp):
    q, i, s = sphere_curve()
    cases = {
        "empty.txt": b"",
        "binary.bin": bytes(range(256)) * 50,
        "text_words.txt": b"hello world\nthis is not data\n",
        "one_column.txt": b"\n".join(str(v).encode() for v in q),
        "header_only.csv": b"q,I,dI\n",
        "nan_rows.txt": "\n".join(f"{a} nan {c}" for a, c in zip(q, s)).encode(),
        # a few NaN / inf rows among good ones: sasdata drops them silently, the result must say so
        "some_nan_rows.txt": "\n".join(f"{a} {'nan' if k % 30 == 7 else b} {c}"
                                       for k, (a, b, c) in enumerate(zip(q, i, s))).encode(),
        "some_inf_rows.txt": "\n".join(f"{'inf' if k == 3 else a} {'-inf' if k in (50, 90) else b} "
                                       f"{'Infinity' if k == 120 else c}" for k, (a, b, c) in enumerate(zip(q, i, s))).encode(),
        "mostly_nan_rows.csv": "\n".join(f"{a},{'NaN' if k % 3 else b},{c}"
                                         for k, (a, b, c) in enumerate(zip(q, i, s))).encode(),
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
        "whitespace.txt": b"   \n\n\t \n",
        "constant.txt": "\n".join(f"{a} 1.0" for a in q).encode(),
        "crlf.txt": "\r\n".join(f"{a} {b} {c}" for a, b, c in zip(q, i, s)).encode(),
        "comma_decimal.txt": "\n".join(f"{a:.6f};{b:.6f}".replace(".", ",") for a, b in zip(q, i)).encode(),
        "utf16.txt": "\n".join(f"{a} {b}" for a, b in zip(q, i)).encode("utf-16"),
        "few_nonpositive.txt": "\n".join(f"{a} {b if k % 40 else -b} {c}"
                                          for k, (a, b, c) in enumerate(zip(q, i, s))).encode(),
        "mostly_negative.txt": "\n".join(f"{a} {-b if k % 5 else b}" for k, (a, b) in enumerate(zip(q, i))).encode(),
        "narrow_window.txt": "\n".join(f"{a} {b}" for a, b in zip(np.linspace(0.1, 0.11, 50), np.linspace(2, 1, 50))).encode(),
        "header_and_text.txt": b"# q I dI\n<Q> <I> <dI>\nfoo bar baz\n" * 20,
        "long_line.txt": b"1 " * 200_000,
        "nm_unit.xml": open(os.path.join(EXAMPLES, "ellipsoid_sans.xml"), "rb").read().replace(b"A^{-1}", b"nm^{-1}"),
        "bad_unit.xml": open(os.path.join(EXAMPLES, "ellipsoid_sans.xml"), "rb").read().replace(b"A^{-1}", b"furlong"),
        "truncated.xml": open(os.path.join(EXAMPLES, "ellipsoid_sans.xml"), "rb").read()[:3000],
        "gzip.txt.gz": b"\x1f\x8b\x08\x00" + bytes(range(200)),
    }
    paths = {}
    for name, data in cases.items():
        p = tmp / name
        p.write_bytes(data)
        paths[name] = str(p)
    return paths


def _sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _state(paths):
    return {p: (_sha(p), os.stat(p).st_mtime_ns, os.stat(p).st_mode) for p in paths}


EXPECTED_ERRORS = {  # file -> a phrase of its message (what is wrong)
    "empty.txt": "is empty", "whitespace.txt": "blank space", "binary.bin": "binary content",
    "gzip.txt.gz": "compressed archive", "utf16.txt": "UTF-16", "comma_decimal.txt": "not a comma",
    "text_words.txt": "fewer than 5 rows", "header_only.csv": "fewer than 5 rows",
    "few_points.txt": "fewer than 5 rows", "one_column.txt": "only one column", "zeros.txt": "intensities are 0",
    "nan_rows.txt": "no numeric data rows", "negative_q.txt": "zero or negative",
    "duplicate_q.txt": "duplicate q value", "constant.txt": "intensities are equal",
    "mostly_negative.txt": "mostly positive", "narrow_window.txt": "grid bins",
    "broken.xml": "not a readable SAS data file", "broken.h5": "not a readable SAS data file",
    "bad_unit.xml": "not a readable SAS data file",
    "mostly_nan_rows.csv": "100 of 150 data rows hold NaN or infinite values",
}
EXPECTED_OK = ("good.txt", "unsorted.txt", "crlf.txt", "few_nonpositive.txt", "nm_unit.xml", "huge_values.txt",
               "tiny_values.txt", "some_nan_rows.txt", "some_inf_rows.txt")


def _outcome(suggester, path):
    try:
        res = suggester.suggest_file(path)
        assert res and all(isinstance(r, Suggestion) for r in res)
        return res
    except AutomodelError as exc:
        assert len(str(exc)) > 30, path  # says what is wrong and what to do
        return exc


def test_hostile_files_end_in_a_result_or_a_clear_error(tmp_path, suggester):
    paths = _files(tmp_path)
    before = _state(paths.values())
    listing = sorted(os.listdir(tmp_path))
    cwd_listing = sorted(os.listdir(os.getcwd()))
    outcomes = {name: _outcome(suggester, path) for name, path in paths.items()}
    for name, phrase in EXPECTED_ERRORS.items():
        assert isinstance(outcomes[name], AutomodelError), name
        assert phrase in str(outcomes[name]), (name, str(outcomes[name]))
    for name in EXPECTED_OK:
        assert isinstance(outcomes[name], list), (name, outcomes[name])
    warnings = " | ".join(outcomes["few_nonpositive.txt"][0].warnings)
    assert "4 of 150 points with zero or negative intensity" in warnings
    assert any("looks like 1/nm" in w for w in outcomes["nm_scale.txt"][0].warnings)
    # rows the loader dropped are counted, with the reason (issue 26)
    warnings = " | ".join(outcomes["some_nan_rows.txt"][0].warnings)
    assert "5 of 150 data rows hold NaN or infinite values (I: 5; first at line 8) and were dropped" in warnings
    warnings = " | ".join(outcomes["some_inf_rows.txt"][0].warnings)
    assert "4 of 150 data rows hold NaN or infinite values (q: 1, I: 2, dI: 1; first at line 4)" in warnings
    assert not any("NaN or infinite" in w for w in outcomes["good.txt"][0].warnings)
    assert _state(paths.values()) == before  # read only: same bytes, same mtime, same mode
    assert sorted(os.listdir(tmp_path)) == listing  # no temporary files left behind
    assert sorted(os.listdir(os.getcwd())) == cwd_listing


def test_stated_nm_unit_is_converted(tmp_path, suggester):
    paths = _files(tmp_path)
    (a,) = suggester.suggest_file(os.path.join(EXAMPLES, "ellipsoid_sans.xml"))
    from sasview_automodel.curve import load_file
    (c,) = load_file(paths["nm_unit.xml"])
    (ref,) = load_file(os.path.join(EXAMPLES, "ellipsoid_sans.xml"))
    assert np.allclose(c.q * 10, ref.q)


def test_other_path_errors(tmp_path, suggester):
    from sasview_automodel import FileFormatError
    with pytest.raises(FileFormatError, match="no such file"):
        suggester.suggest_file(str(tmp_path / "missing.txt"))
    with pytest.raises(FileFormatError, match="is a folder"):
        suggester.suggest_file(str(tmp_path))
    with pytest.raises(FileFormatError, match="path"):
        suggester.suggest_file(None)


def test_read_only_files_are_enough(tmp_path, suggester):
    p = tmp_path / "ro.txt"
    q, i, s = sphere_curve()
    p.write_text("\n".join(f"{a} {b} {c}" for a, b, c in zip(q, i, s)))
    os.chmod(p, 0o444)
    try:
        assert isinstance(suggester.suggest_file(str(p))[0], Suggestion)
    finally:
        os.chmod(p, 0o644)


def _million():
    q = np.geomspace(1e-3, 0.5, 1_000_000)
    x = q * 50
    i = (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2 + 1e-4
    return q, i * (1 + 0.05 * np.random.default_rng(0).standard_normal(q.size)), 0.05 * i


@pytest.mark.slow
def test_a_million_points_are_handled_in_bounded_memory_and_time(suggester):
    q, i, s = _million()
    tracemalloc.start()
    t = time.perf_counter()
    res = suggester.suggest(q, i, sigma=s)
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(res, Suggestion)
    assert elapsed < 15 and peak < 400e6, (elapsed, peak)  # 24 MB of input; resampled to 256 bins


@pytest.mark.slow
def test_a_million_point_file_is_handled(tmp_path, suggester):
    q, i, s = _million()
    p = tmp_path / "million.txt"
    np.savetxt(p, np.c_[q, i, s], fmt="%.6e")
    before = _sha(p)
    t = time.perf_counter()
    (res,) = suggester.suggest_file(str(p))
    assert isinstance(res, Suggestion) and time.perf_counter() - t < 60
    assert _sha(p) == before and os.listdir(tmp_path) == ["million.txt"]


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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(content=st.one_of(
    st.binary(max_size=3000),
    st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True),
                       st.floats(allow_nan=True, allow_infinity=True)), max_size=80)
    .map(lambda rows: "\n".join(f"{a} {b} {c}" for a, b, c in rows).encode()),
    st.text(max_size=2000).map(lambda t: t.encode("utf-8", "replace"))),
    ext=st.sampled_from([".txt", ".csv", ".xml", ".h5", ".dat", ".abs", ".pdh", ""]))
def test_arbitrary_files_never_raise_anything_else(tmp_path_factory, suggester, content, ext):
    folder = tmp_path_factory.mktemp("fuzz")
    p = folder / ("data" + ext)
    p.write_bytes(content)
    before = _state([str(p)])
    _outcome(suggester, str(p))
    assert _state([str(p)]) == before and os.listdir(folder) == [p.name]


class _Obj:
    pass


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=st.one_of(st.none(), st.lists(st.floats(), max_size=40), st.text(max_size=5), st.integers()),
       y=st.one_of(st.none(), st.lists(st.floats(), max_size=40), st.text(max_size=5)),
       dy=st.one_of(st.none(), st.lists(st.floats(), max_size=40)),
       dxl=st.one_of(st.none(), st.lists(st.floats(), max_size=40), st.text(max_size=3)),
       unit=st.one_of(st.none(), st.sampled_from(["1/A", "A^{-1}", "1/nm", "nm^{-1}", "counts", ""]), st.text(max_size=5)))
def test_arbitrary_data_objects_never_raise_anything_else(suggester, x, y, dy, dxl, unit):
    """What the SasView panel may be handed (curve_from_data + suggest_curves)."""
    from sasview_automodel.curve import curve_from_data
    d = _Obj()
    d.x, d.y, d.dy, d.dx, d.dxl, d._xunit = x, y, dy, None, dxl, unit
    try:
        assert isinstance(suggester.suggest_curves([curve_from_data(d, "fuzz")])[0], Suggestion)
    except AutomodelError as exc:
        assert str(exc)


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(20, 300), n_bad=st.integers(0, 6), shuffle=st.booleans(),
       repeats=st.integers(0, 3))
def test_repaired_curve_is_the_usable_points_in_q_order(seed, n, n_bad, shuffle, repeats):
    """Oracle for make_curve's repairs: keep finite points with q > 0 and I > 0, stable-sorted by q."""
    from sasview_automodel.curve import make_curve
    rng = np.random.default_rng(seed)
    q = np.geomspace(2e-3, 0.3, n)
    i = rng.lognormal(0, 1, n)
    sigma = 0.05 * i
    q[rng.integers(0, n, repeats)] = q[0]
    for k, v in zip(rng.integers(0, n, n_bad), rng.choice([np.nan, np.inf, -1.0, 0.0], n_bad)):
        (q if rng.random() < 0.5 else i)[k] = v
    if shuffle:
        perm = rng.permutation(n)
        q, i, sigma = q[perm], i[perm], sigma[perm]
    keep = np.isfinite(q) & np.isfinite(i) & (q > 0) & (i > 0)
    order = np.argsort(q[keep], kind="stable")
    c = make_curve(q, i, sigma)
    assert np.array_equal(c.q, q[keep][order]) and np.array_equal(c.intensity, i[keep][order])
    assert np.array_equal(c.sigma, sigma[keep][order])
    assert bool(c.warnings) == (not keep.all() or shuffle and not np.all(np.diff(q[keep]) >= 0) or repeats > 0
                                and np.any(np.diff(q[keep][order]) == 0))
