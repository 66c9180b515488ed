"""What every command shares: the exit codes, the errors that pick them, where results go.

Exit codes: 0 done; 1 a reaction did not happen or failed; 2 bad usage or bad input; 3 AWS
cannot be reached as asked (no or rejected credentials, no or unknown region, unknown
profile, an endpoint that does not answer or is not a URL). Every error is one line on
stderr that names the fix, never a traceback.

stdout carries results only: ``cli.main`` points ``sys.stdout`` at stderr while a command
runs (so log lines, the Powertools logger's included, and stray prints land there) and
commands write their results through :func:`out` and :func:`print_json`.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AWS = 0, 1, 2, 3

#: ``--output`` values; ``--json`` is ``--output json``
OUTPUTS = ("json", "table", "text")


class UsageError(Exception):
    """Bad usage or bad input: exit 2 with one line."""


class Failed(Exception):
    """A reaction did not happen or failed: exit 1 with one line."""


class AwsAccessError(Exception):
    """AWS cannot be reached as asked (credentials, region, profile, endpoint): exit 3."""


#: where results go (``cli.main`` sets it to the real stdout for the command's run)
_results: TextIO | None = None


def set_results(stream: TextIO | None) -> None:
    global _results  # noqa: PLW0603 - one stream per process, set by main()
    _results = stream


def results() -> TextIO:
    return _results or sys.stdout


def out(text: str = "", *, flush: bool = False) -> None:
    """One line (or several) of a command's result, on stdout."""
    print(text, file=results(), flush=flush)


def print_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2, default=str), file=results())


def progress(msg: str) -> None:
    print(f"... {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- colour
_no_color_flag = False


def set_no_color(value: bool) -> None:
    global _no_color_flag  # noqa: PLW0603 - the --no-color of this process's command
    _no_color_flag = value


def use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, never with ``NO_COLOR`` (https://no-color.org: any
    non-empty value), ``--no-color`` or ``TERM=dumb``."""
    if _no_color_flag or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


_CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}


def paint(text: str, colour: str, stream: TextIO | None = None) -> str:
    """``text`` in ``colour`` when ``stream`` (default: the results) may take colour."""
    if not use_color(stream or results()):
        return text
    return f"\033[{_CODES[colour]}m{text}\033[0m"


def warning_line(message: str) -> None:
    """``warning: <message>`` on stderr (its prefix yellow on a terminal): the command goes on."""
    print(f"{paint('warning:', 'yellow', sys.stderr)} {message}", file=sys.stderr)


def error_line(message: str) -> None:
    """``error: <message>`` on stderr (its prefix red on a terminal)."""
    print(f"{paint('error:', 'red', sys.stderr)} {message}", file=sys.stderr)


# --------------------------------------------------------------------------- AWS access
_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "ExpiredToken",
        "ExpiredTokenException",
        "AuthFailure",
    }
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def access_problem(exc: BaseException) -> str | None:
    """The one line that names the fix when ``exc`` (or what caused it) says AWS cannot be
    reached as asked: credentials, region, profile or endpoint; None for anything else."""
    try:
        from botocore import exceptions as bx  # noqa: PLC0415 - only where boto3 was used
    except ImportError:  # pragma: no cover - botocore is a dependency
        return None
    for e in _chain(exc):
        if isinstance(e, bx.NoCredentialsError | bx.PartialCredentialsError):
            return (
                "no AWS credentials found: configure them (aws configure, aws sso login, "
                "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), pass --profile, or "
                "--endpoint-url http://127.0.0.1:PORT for the sandbox"
            )
        if isinstance(e, bx.ProfileNotFound):
            return f"{e}: pass an existing --profile (aws configure list-profiles)"
        if isinstance(e, bx.NoRegionError):
            return "no AWS region: pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)"
        if isinstance(e, bx.UnknownRegionError | bx.InvalidRegionError):
            return f"{e}: pass a valid --region (e.g. eu-west-1)"
        if isinstance(e, bx.EndpointConnectionError | bx.ConnectTimeoutError):
            url = str(getattr(e, "kwargs", {}).get("endpoint_url", ""))
            if ".amazonaws.com" in url:
                return (
                    f"cannot reach {url}: check that --region (or AWS_REGION) names a real "
                    "region and that the network reaches AWS"
                )
            return (
                f"cannot reach the AWS endpoint {url}: is the sandbox up (autopilot local "
                "up) and the host and port right? Check --endpoint-url and AWS_ENDPOINT_URL"
            )
        if isinstance(e, ValueError) and str(e).startswith("Invalid endpoint"):
            return f"{e}: give --endpoint-url as a URL, e.g. http://127.0.0.1:4599"
        code: Any = getattr(e, "code", None)  # errors.AwsCallFailed's AWS error code
        if isinstance(e, bx.ClientError):
            code = e.response.get("Error", {}).get("Code", "")
        if isinstance(code, str) and code in _CREDENTIAL_CODES:
            return (
                f"AWS refused the credentials ({code}): refresh them (aws sso login, "
                "aws configure) or pass another --profile"
            )
    return None
