"""`python -m marketstream`: the `marketstream` command."""

import sys

from marketstream.cli import main

sys.exit(main())
