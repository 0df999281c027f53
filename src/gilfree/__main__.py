"""``python -m gilfree``: the same as the ``gilfree`` command."""

import sys

from gilfree.cli import main

sys.exit(main())
