"""Entry point for ``python -m hwsr``."""

import sys

from hwsr.cli import main

sys.exit(main())
