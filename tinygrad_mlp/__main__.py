"""``python -m tinygrad_mlp``: see ``cli.py``."""

import sys

from .cli import main

sys.exit(main())
