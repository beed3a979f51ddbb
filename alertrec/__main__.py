"""``python -m alertrec``: same as the ``alertrec`` console script."""

import sys

from alertrec.cli import main

sys.exit(main())
