"""`python -m facefind.cli`, as `python -m facefind` and the `facefind` script."""

import sys

from facefind.cli import main

sys.exit(main())
