"""`python3 -m vmcollect` and `python3 vmcollect.pyz` both start here."""

import sys

from vmcollect.cli import main

if __name__ == "__main__":
    sys.exit(main())
