"""`python -m localcloud demo`: the main job on this machine."""

import sys

from localcloud.inprocess_demo import main

sys.exit(main(sys.argv[1:]))
