"""`python -m infra.preview`: see `infra.preview.cli`."""

import sys

from infra.preview.cli import main

if __name__ == "__main__":
    sys.exit(main())
