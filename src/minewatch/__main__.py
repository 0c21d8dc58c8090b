"""``python -m minewatch``: the ``minewatch`` command."""

import sys

from minewatch.cli.main import main

sys.exit(main())
