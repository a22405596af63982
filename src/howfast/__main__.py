"""``python -m howfast``: the same command line as the ``howfast`` console script."""

import sys

from howfast.cli.app import main

sys.exit(main())
