"""`python -m apispec [--check] [--output PATH]` (see `apispec.cli`)."""

import sys

from apispec.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
