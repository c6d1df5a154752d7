"""`python -m bench` (what `nox -s bench` runs)."""

import sys

from bench.harness import main

sys.exit(main())
