# scripts/mmcplot/need.py: the scripts' one requirement beyond python3, checked with a message.
#
# Owns the check that matplotlib (and numpy, which it brings) can be imported, and the message
# naming Debian's package when not. Plain standard library: imported before anything that
# draws.

import sys


def matplotlib_or_exit(prog):
    """Return if matplotlib and numpy import; else print what is missing and how to get it,
    and exit 2."""
    try:
        import matplotlib  # noqa: F401
        import numpy  # noqa: F401
    except ImportError as e:
        print(f"{prog}: error: {e.name or 'matplotlib'} cannot be imported by {sys.executable} "
              f"({e}): the charts need Debian's python3-matplotlib: apt-get install "
              "python3-matplotlib (and run the script with /usr/bin/python3, as its first line "
              "says)", file=sys.stderr)
        sys.exit(2)
