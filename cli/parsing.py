"""The command line on click: what every `autopilot` command shares (``cli.main`` declares
the commands).

- The global options (``--profile``, ``--region``, ``--endpoint-url``, ``--outputs-file``,
  ``--output``/``--json``, ``--no-color``, ``--version``) are on the top-level group, on
  ``local`` and on every command (click reads a group's options only before its
  subcommand): :func:`namespace` merges them, the one nearest the command winning.
- A command's callback only parses: it returns a :class:`types.SimpleNamespace` of the
  option values (the names ``cli.main``'s ``cmd_*`` functions read) and the function to
  run, which ``cli.main`` runs with the command's environment and output streams.
- Help has an "Examples:" section on every command (``tests/unit/test_cli_help.py`` fails
  on a command without one) and lists the arguments, the command's options and the global
  options apart.
- Shell completion is click's own (``_AUTOPILOT_COMPLETE=bash_source autopilot``, or
  ``autopilot completion bash``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

import click

from cli.output import OUTPUTS

PROG = "autopilot"
#: the environment variable click's completion scripts set (``_<PROG>_COMPLETE``)
COMPLETE_VAR = "_AUTOPILOT_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
GLOBAL_HEADING = "Global options (before or after the command)"
HELP_NAMES = ["-h", "--help"]
CONTEXT: dict[str, Any] = {"help_option_names": HELP_NAMES, "max_content_width": 100}


class ClosedPipe(Exception):
    """stdout was closed while help or the version was printed (``autopilot --help |
    head -1``). Not an ``OSError``: click's ``main`` would turn that into exit 1."""


def say(text: str) -> None:
    """``text`` on stdout for the help and version options."""
    try:
        click.echo(text)
        sys.stdout.flush()
    except BrokenPipeError as exc:
        raise ClosedPipe from exc


class GlobalOption(click.Option):
    """One of the global options (help lists them apart)."""


def _show_help(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        say(ctx.get_help())
        ctx.exit()


class _Help:
    """Help that lists the command's options and the global options apart (click lists the
    arguments before them), and prints through :func:`say` (a closed pipe ends quietly)."""

    _help_option: click.Option | None

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        if self._help_option is None:
            self._help_option = click.Option(
                HELP_NAMES,
                is_flag=True,
                is_eager=True,
                expose_value=False,
                callback=_show_help,
                help="Show this message and exit.",
            )
        return self._help_option

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        assert isinstance(self, click.Command)
        own: list[tuple[str, str]] = []
        glob: list[tuple[str, str]] = []
        for p in self.get_params(ctx):
            if isinstance(p, click.Option) and (record := p.get_help_record(ctx)) is not None:
                (glob if isinstance(p, GlobalOption) else own).append(record)
        for heading, rows in (("Options", own), (GLOBAL_HEADING, glob)):
            if rows:
                with formatter.section(heading):
                    formatter.write_dl(rows)
        if isinstance(self, click.Group):
            self.format_commands(ctx, formatter)


class Command(_Help, click.Command):
    pass


class Group(_Help, click.Group):
    pass


def examples(*lines: str) -> str:
    """An epilog of runnable examples, each line as written (click's ``\\b`` keeps them
    unwrapped)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def option(*decls: str, **kw: Any) -> click.Option:
    """A command's option; its metavar the option's name in capitals (`--reason REASON`)."""
    if (
        not kw.get("is_flag")
        and "metavar" not in kw
        and not isinstance(kw.get("type"), click.Choice)
    ):
        name = next(d for d in decls if d.startswith("--")).lstrip("-").replace("-", "_")
        kw["metavar"] = name.upper()
    return click.Option(list(decls), **kw)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        say(f"{PROG} {version()}")
        ctx.exit()


def version() -> str:
    from importlib.metadata import PackageNotFoundError  # noqa: PLC0415
    from importlib.metadata import version as installed  # noqa: PLC0415

    try:
        return installed("ecs-autopilot")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout, not installed
        return "unknown"


#: the global options' names in a command's namespace (``--json`` is ``output``)
GLOBAL_NAMES = ("profile", "region", "endpoint", "outputs_file", "output", "no_color")


def global_options() -> list[click.Parameter]:
    """A fresh set of the global options (click parameters belong to one command)."""
    return [
        GlobalOption(
            ["--profile"],
            metavar="PROFILE",
            help="a named profile of the AWS config and credentials files (default: $AWS_PROFILE)",
        ),
        GlobalOption(
            ["--region"],
            metavar="REGION",
            help="AWS region (default: $AWS_REGION, else $AWS_DEFAULT_REGION, else the profile's)",
        ),
        GlobalOption(
            ["--endpoint-url", "--endpoint", "endpoint"],
            metavar="URL",
            help="AWS endpoint, e.g. the sandbox's http://127.0.0.1:4599 "
            "(default: $AWS_ENDPOINT_URL, else AWS itself)",
        ),
        GlobalOption(
            ["--outputs-file", "outputs_file"],
            metavar="FILE",
            type=click.Path(dir_okay=False),
            help="the stacks' outputs as `cdk deploy --outputs-file FILE` wrote them, read "
            "before CloudFormation (default: $AUTOPILOT_OUTPUTS_FILE)",
        ),
        GlobalOption(
            ["--output"],
            type=click.Choice(OUTPUTS),
            help="json (machine-readable, nothing else on stdout), table or text (the default)",
        ),
        GlobalOption(["--json", "json_output"], is_flag=True, help="the same as --output json"),
        GlobalOption(
            ["--no-color"],
            is_flag=True,
            help="no colour (there is none off a terminal, nor with $NO_COLOR)",
        ),
        GlobalOption(
            ["--version"],
            is_flag=True,
            is_eager=True,
            expose_value=False,
            callback=_print_version,
            help="print autopilot's version and exit",
        ),
    ]


def namespace(ctx: click.Context, run: Callable[[Any], int]) -> SimpleNamespace:
    """The parsed command line as ``cli.main``'s ``cmd_*`` functions read it: the
    command's own values (a repeatable option as a list, None when not given), the global
    options merged over the contexts (the one given nearest the command wins), ``command``
    (and ``local_command`` under ``local``) and ``func``, the function to run."""
    chain: list[click.Context] = []
    c: click.Context | None = ctx
    while c is not None:
        chain.append(c)
        c = c.parent
    values: dict[str, Any] = {}
    for name in ("profile", "region", "endpoint", "outputs_file"):
        values[name] = next((c.params[name] for c in chain if c.params.get(name)), None)
    values["output"] = next(
        (
            "json" if c.params.get("json_output") else c.params["output"]
            for c in chain
            if c.params.get("json_output") or c.params.get("output")
        ),
        None,
    )
    values["no_color"] = any(c.params.get("no_color") for c in chain)
    for name, value in ctx.params.items():
        if name in (*GLOBAL_NAMES, "json_output"):
            continue
        values[name] = (list(value) or None) if isinstance(value, tuple) else value
    path = [c.info_name or "" for c in reversed(chain)][1:]
    values["command"] = path[0]
    if len(path) > 1:
        values["local_command"] = path[1]
    return SimpleNamespace(func=run, **values)


def command(
    group: click.Group,
    name: str,
    run: Callable[[Any], int],
    *,
    help: str,
    example: Iterable[str],
    params: Iterable[click.Parameter] = (),
    verbose: bool = False,
    check: Callable[[click.Context], None] | None = None,
) -> Command:
    """Add ``name`` to ``group``: its parameters, ``-v`` where it tells a timeline
    (``verbose``), the global options, and its examples. ``check`` may refuse a
    combination of values (``click.UsageError``)."""
    every = list(params)
    if verbose:
        every.append(
            click.Option(
                ["-v", "--verbose"],
                is_flag=True,
                help="show every line: reactions that changed nothing (debounced, balanced, "
                "...), task events, unmatched events",
            )
        )

    def callback(**_: Any) -> SimpleNamespace:
        ctx = click.get_current_context()
        if check is not None:
            check(ctx)
        return namespace(ctx, run)

    cmd = Command(
        name,
        params=[*every, *global_options()],
        callback=callback,
        help=help,
        short_help=help,
        epilog=examples(*example),
        context_settings=CONTEXT,
    )
    group.add_command(cmd)
    return cmd


def group(name: str, *, help: str, epilog: str) -> Group:
    return Group(
        name,
        params=global_options(),
        help=help,
        short_help=help,
        epilog=epilog,
        context_settings=CONTEXT,
    )


def usage_error(exc: click.UsageError) -> str:
    """The one line for a usage error click found (its usage goes to stderr first)."""
    ctx = exc.ctx
    path = ctx.command_path if ctx is not None else PROG
    if ctx is not None:
        print(ctx.get_usage(), file=sys.stderr)
    if isinstance(exc, click.exceptions.NoArgsIsHelpError) and ctx is not None:
        assert isinstance(ctx.command, click.Group)
        names = ", ".join(ctx.command.list_commands(ctx))
        message = f"a command is needed, one of: {names}"
    else:
        message = " ".join(exc.format_message().split())
    return f"{path}: {message} (see {path} --help)"


def completion_script(root: click.Command, shell: str) -> str:
    """The script that makes ``shell`` complete ``autopilot`` (click's own completion)."""
    from click.shell_completion import get_completion_class  # noqa: PLC0415

    cls = get_completion_class(shell)
    assert cls is not None  # SHELLS are click's
    return cls(root, {}, PROG, COMPLETE_VAR).source()
