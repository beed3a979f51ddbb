"""``python -m alertrec.generate``: the generator's command line (:func:`alertrec.generate.cli.main`)."""

import sys

from alertrec.generate.cli import main

if __name__ == "__main__":
    sys.exit(main())
