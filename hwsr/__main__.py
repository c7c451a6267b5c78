"""Entry point of the ``hwsr`` command and of ``python -m hwsr``.

Ctrl-C is answered from the first instruction on: while the command's modules are still
importing, a SIGINT ends the process with status 130 and one line, as it does later.
"""

import os
import signal
import sys


def _interrupted_at_start(signum: int, frame: object) -> None:
    print("hwsr: interrupted", file=sys.stderr)
    raise SystemExit(130)


def run() -> None:
    """Install the start-up Ctrl-C answer, then import and run the command."""
    signal.signal(signal.SIGINT, _interrupted_at_start)
    from hwsr.cli import INTERRUPTED, main

    code = main()
    if code == INTERRUPTED:  # leave now: no wait for worker threads, no second Ctrl-C
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
