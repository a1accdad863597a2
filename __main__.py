"""`python -m ganymede` is the `ganymede` command."""

import sys

from ganymede.cli import main

sys.exit(main())
