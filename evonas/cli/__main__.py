"""``python -m evonas.cli``: the ``nas`` command."""

import sys

from evonas.cli.main import main

sys.exit(main())
