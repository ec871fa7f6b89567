"""``python -m crmflow`` — the command line."""

import sys

from crmflow.cli import main

if __name__ == "__main__":
    sys.exit(main())
