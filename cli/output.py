"""What every command shares: the exit codes, the errors that pick them, JSON on stdout.

Exit codes: 0 done; 1 a reaction did not happen or failed; 2 bad usage or bad input (one
clear line on stderr, never a traceback).
"""

from __future__ import annotations

import json
import sys
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad usage or bad input: exit 2 with one line."""


class Failed(Exception):
    """A reaction did not happen or failed: exit 1 with one line."""


def print_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2, default=str))


def progress(msg: str) -> None:
    print(f"... {msg}", file=sys.stderr, flush=True)
