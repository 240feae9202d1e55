import sys

from restorelab.cli import main

if __name__ == "__main__":  # spawned workers (benchmark ranks) import this module too
    sys.exit(main())
