"""Speed of the runtime: the same as ``sasview-automodel bench`` (sasview_automodel/bench.py).

    python benchmarks/bench_suggest.py [--repeats 300] [--batch 10000] [--files 1000] [--model CARD]

Kept so that ``make bench`` and old notes keep working; see docs/benchmarks.md.
"""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from sasview_automodel.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
