"""`python -m facefind` runs the command line."""

import sys

from facefind.cli import main

sys.exit(main())
