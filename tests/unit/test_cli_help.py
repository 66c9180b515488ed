"""The `autopilot` command line on click (``cli/parsing.py``, the commands in
``cli/main.py``): an example in every command's help, shell completion, the global
options before or after the command, usage errors as one line with the usage.

Completion and help run the installed entry point (the virtualenv's bin/autopilot) as a
user's shell would; the rest parses in-process, no AWS and no sandbox involved.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from cli import parsing
from cli.main import build_cli, main, parse

AUTOPILOT = Path(sys.prefix) / "bin" / "autopilot"
CLI = Path(__file__).resolve().parents[2] / "cli"


def commands(
    cmd: click.Command, path: tuple[str, ...] = ("autopilot",), parent: click.Context | None = None
) -> Iterator[tuple[tuple[str, ...], click.Command, click.Context]]:
    """Every command and group under ``cmd``, with its path and a context to render it in."""
    ctx = click.Context(cmd, info_name=path[-1], parent=parent)
    yield path, cmd, ctx
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None
            yield from commands(sub, (*path, name), ctx)


def run(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AUTOPILOT), *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def complete(line: str) -> list[str]:
    """What bash completion offers for ``line`` (the word being typed last, maybe empty),
    asked as click's bash script asks: ``COMP_WORDS``, ``COMP_CWORD`` and the variable."""
    proc = run(
        **{
            parsing.COMPLETE_VAR: "bash_complete",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(line.split(" ")) - 1),
        }
    )
    assert proc.returncode == 0, proc.stderr
    return [row.partition(",")[2] for row in proc.stdout.splitlines()]


# --------------------------------------------------------------------------- help
def test_every_commands_help_shows_an_example_of_that_command() -> None:
    walked = list(commands(build_cli()))
    assert len(walked) > 20, "the walk found the commands"
    for path, cmd, ctx in walked:
        text = cmd.get_help(ctx)
        assert "Examples:" in text, path
        named = " ".join(path)
        assert text.startswith(f"Usage: {named} "), text
        lines = [line.strip() for line in text.splitlines()]
        assert any(
            line.startswith(f"{named} ") or line == named
            for line in lines
            if line.startswith("autopilot ")
        ), f"{named} --help has no example of {named}:\n{text}"


def test_help_of_the_installed_command_lists_global_options_and_examples() -> None:
    proc = run("local", "push", "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: autopilot local push [OPTIONS] REPO:TAG")
    assert "Global options (before or after the command):" in proc.stdout
    assert "  autopilot local push demo/web:1.5.0" in proc.stdout
    assert "--findings FINDINGS" in proc.stdout
    assert proc.stdout.count("Positional arguments:") == 1
    assert "REPO:TAG  the repository and new tag" in proc.stdout
    assert "-h, --help" in proc.stdout
    top = run("--help")
    assert top.returncode == 0, top.stderr
    assert "completion" in top.stdout
    assert "Exit codes: 0 done" in top.stdout


def test_no_argparse_left_in_the_command_line() -> None:
    for path in CLI.glob("*.py"):
        assert "import argparse" not in path.read_text(), path


# --------------------------------------------------------------------------- completion
@pytest.mark.parametrize("shell", parsing.SHELLS)
def test_completion_prints_the_shells_script(shell: str) -> None:
    proc = run("completion", shell)
    assert proc.returncode == 0, proc.stderr
    assert parsing.COMPLETE_VAR in proc.stdout
    assert f"{shell}_complete" in proc.stdout
    # the same script as click's own environment-variable way
    env_way = run(**{parsing.COMPLETE_VAR: f"{shell}_source"})
    assert env_way.returncode == 0, env_way.stderr
    assert env_way.stdout.strip() == proc.stdout.strip()


def test_completion_offers_commands_choices_and_function_names() -> None:
    assert complete("autopilot lo") == ["local"]
    assert complete("autopilot --output ") == ["json", "table", "text"]
    assert complete("autopilot status --output t") == ["table", "text"]
    assert complete("autopilot local tick ") == ["reconcile", "recheck"]
    assert "image-events" in complete("autopilot invoke ")
    assert complete("autopilot completion ") == list(parsing.SHELLS)


def test_bash_completes_with_the_printed_script() -> None:
    """As in a user's ~/.bashrc: the script evaluated, bash asks it to complete words."""
    script = 'eval "$(autopilot completion bash)"; COMP_WORDS=(autopilot local "p")\n'
    script += 'COMP_CWORD=2; _autopilot_completion autopilot; echo "${COMPREPLY[@]}"\n'
    script += "complete -p autopilot"
    path = f"{AUTOPILOT.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    proc = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    offered, registered = proc.stdout.splitlines()
    assert offered.split() == ["push"]
    assert registered.endswith("-F _autopilot_completion autopilot")


def test_a_bad_shell_is_a_usage_error() -> None:
    proc = run("completion", "powershell")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- parsing
def test_global_options_before_or_after_the_command_give_the_same_values() -> None:
    before = parse(["--json", "--region", "eu-west-1", "--endpoint", "http://x:1", "status"])
    after = parse(["status", "--output", "json", "--region", "eu-west-1", "--endpoint-url",
                   "http://x:1"])  # fmt: skip
    assert vars(before) == vars(after)
    assert (after.output, after.region, after.endpoint) == ("json", "eu-west-1", "http://x:1")
    # the one nearest the command wins; under `local` the group's own copy counts too
    assert parse(["--region", "a", "status", "--region", "b"]).region == "b"
    pushed = parse(["--profile", "p", "local", "--no-color", "push", "demo/web:1", "--json"])
    assert (pushed.profile, pushed.no_color, pushed.output) == ("p", True, "json")
    assert (pushed.command, pushed.local_command) == ("local", "push")


def test_repeatable_options_are_lists_or_none() -> None:
    assert parse(["status"]).cluster is None
    assert parse(["status", "--cluster", "a", "--cluster", "b"]).cluster == ["a", "b"]
    assert parse(["redrive", "--function", "image-events"]).functions == ["image-events"]
    assert parse(["adopt", "c"]).service is None


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--bogus"],
        ["status", "--outp", "json"],  # no abbreviated options
        ["status", "-v"],  # -v only where it tells more
        ["history", "web", "--limit", "many"],
        ["adopt", "c", "--apply", "--undo"],
        ["local"],
        [],
    ],
)
def test_a_usage_error_is_the_usage_and_one_error_line_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert lines[0].startswith("Usage: autopilot"), captured.err
    assert len(lines) == 2, captured.err
    assert lines[1].startswith("error: autopilot"), captured.err
    assert lines[1].endswith("--help)"), captured.err
