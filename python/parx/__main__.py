"""``python -m parx ARGS``: runs the parx binary (the one the wheel installed) with ARGS."""

import os
import sys

from parx import binary


def main() -> None:
    exe = binary()
    os.execv(exe, [exe, *sys.argv[1:]])


if __name__ == "__main__":
    main()
