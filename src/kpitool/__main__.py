"""`python -m kpitool`, or `spark-submit …/kpitool/__main__.py` (run as a file)."""

import sys
from pathlib import Path

if not __package__:
    # Run as a file, sys.path[0] is this folder, whose subpackages (polars, spark …) would
    # shadow the libraries of the same name: put the folder that holds kpitool there instead.
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from kpitool.cli import main

if __name__ == "__main__":  # spawned PDF workers import this module as __mp_main__
    main()
