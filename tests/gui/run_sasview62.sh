#!/usr/bin/env bash
# The GUI end-to-end tests against SasView 6.2.0 on Python 3.12 (a second test environment).
#
#   tests/gui/run_sasview62.sh [VENV] [-- PYTEST ARGS]
#
# Builds (once) a throw-away venv with Python 3.12 (default /tmp/automodel-sasview62):
# sasview==6.2.0, pytest, pytest-qt, pytest-xvfb, "setuptools<81" and this package (editable,
# without the train extra: no torch), then runs the GUI end-to-end tests against it under
# Xvfb. Xvfb and the X/GL libraries: tests/gui/setup_gui_env.sh (as root) installs them.
# About 2 GB of downloads on the first run. Environment: PYTHON312 (default pyenv's 3.12.1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="/tmp/automodel-sasview62"
if [ $# -gt 0 ] && [ "$1" != "--" ]; then VENV="$1"; shift; fi
[ "${1:-}" = "--" ] && shift
PY="${PYTHON312:-/root/.pyenv/versions/3.12.1/bin/python3.12}"

if ! "$VENV/bin/python" -c "import sas, pytestqt, pytest_xvfb, sys; sys.exit(sas.__version__ != '6.2.0')" 2>/dev/null; then
    "$PY" -m venv "$VENV"
    # pip's output goes to a log (shown on failure): CI logs stay readable
    { "$VENV/bin/pip" install -q --upgrade pip &&
      "$VENV/bin/pip" install -q "sasview==6.2.0" "pytest>=8" "pytest-qt>=4.4" "pytest-xvfb>=3" "setuptools<81" wheel
    } >"$VENV/setup.log" 2>&1 || { tail -50 "$VENV/setup.log"; exit 1; }
fi
# this worktree, editable, no extras (numpy, onnxruntime, sasdata, sasmodels; never torch)
"$VENV/bin/pip" install -q --no-build-isolation -e "$ROOT" >"$VENV/automodel-install.log" 2>&1 \
    || { cat "$VENV/automodel-install.log"; exit 1; }
"$VENV/bin/python" - <<'PY'
import sys, sas, PySide6, sasmodels, sasview_automodel, importlib.util
print(f"run_sasview62: Python {sys.version.split()[0]}, SasView {sas.__version__}, "
      f"PySide6 {PySide6.__version__}, sasmodels {sasmodels.__version__}, "
      f"sasview_automodel from {sasview_automodel.__file__}")
assert importlib.util.find_spec("torch") is None, "torch must not be in the 6.2 test venv"
PY

cd "$ROOT"
if [ $# -eq 0 ]; then
    # all GUI tests: the user routes (test_user_routes.py), end to end, launcher, fail-safe,
    # enable/disable, bundle
    set -- tests/gui
fi
SAS_OPENCL=none exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider \
    -o xvfb_width=1600 -o xvfb_height=1000 -o xvfb_colordepth=24 "$@"
