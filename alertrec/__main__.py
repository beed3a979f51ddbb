"""``python -m alertrec``: same as the ``alertrec`` console script."""

import sys

from alertrec.cli import main

if __name__ == "__main__":  # not when a spawned pool worker re-imports the main module
    sys.exit(main())
