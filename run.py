"""Arbees: `python run.py [COMMAND]` (see `python run.py --help`; the commands live in adapters/cli/).

    python run.py                      paper-trade a simulated game on virtual time (the default)
    python run.py replay FILE [--json] replay a recording through the same actors
    python run.py live                 trade on Kalshi (demo unless --env prod --confirm-prod)

Exit status: 0 success, 1 a run that found a problem, 2 bad input (config, arguments, files),
3 the engine failed safe. Nothing imports this file; it is the one place that may import anything.
"""
from __future__ import annotations

import sys

from adapters.cli.app import main

if __name__ == "__main__":
    sys.exit(main())
