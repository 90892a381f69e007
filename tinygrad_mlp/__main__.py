"""``python -m tinygrad_mlp``: see :mod:`tinygrad_mlp.cli`."""

import sys

from .cli import main

sys.exit(main())
