"""``python -m simwarden`` is the ``simwarden`` command."""

import sys

from simwarden.cli import main

sys.exit(main())
