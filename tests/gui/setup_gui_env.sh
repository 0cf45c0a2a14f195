#!/usr/bin/env bash
# Set up what the GUI tests need (idempotent): Xvfb and the X/GL libraries SasView's Qt needs
# (Debian/Ubuntu, as root), and SasView 6.1.3 + pytest-qt + pytest-xvfb in the given venv.
#
#   tests/gui/setup_gui_env.sh [VENV]        (default VENV: .venv)
#
# Then: SAS_OPENCL=none VENV/bin/python -m pytest -q tests/gui \
#         -o xvfb_width=1600 -o xvfb_height=1000 -o xvfb_colordepth=24
set -euo pipefail
VENV="${1:-.venv}"
PACKAGES=(xvfb xauth libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4
          libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0
          libxcb-xinerama0 libxcb-xkb1 libfontconfig1 libdbus-1-3)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup_gui_env: missing Debian packages (run as root): ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup_gui_env: no virtual environment at $VENV (make it first, e.g. python3.11 -m venv $VENV)" >&2
    exit 1
fi
# SasView 6.1.3 imports pkg_resources, which setuptools >= 81 no longer ships; wheel lets the
# bundle test build our wheel offline (setuptools < 70.1 has no bdist_wheel of its own).
if ! "$VENV/bin/python" -c "import sas, pytestqt, pytest_xvfb, pkg_resources, wheel, sys; sys.exit(sas.__version__ != '6.1.3')" 2>/dev/null; then
    "$VENV/bin/pip" install -q "sasview==6.1.3" "pytest-qt>=4.4" "pytest-xvfb>=3" "setuptools<81" wheel
fi
echo "setup_gui_env: ready ($("$VENV/bin/python" -c 'import sas; print("SasView", sas.__version__)'))"
