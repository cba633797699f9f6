"""`python -m kpitool …` runs the command line."""

from kpitool.cli import main

if __name__ == "__main__":  # spawned PDF workers import this module as __mp_main__
    main()
