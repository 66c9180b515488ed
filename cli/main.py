"""`autopilot`: the demo, the sandbox, one-handler invocations, the operator controls.

Exit codes (``cli.output``): 0 done; 1 a reaction did not happen or failed; 2 bad usage
or bad input; 3 AWS cannot be reached as asked (credentials, region, profile, endpoint).
Each error is one clear line on stderr, never a traceback. The global options
(``--profile``, ``--region``, ``--endpoint-url``, ``--outputs-file``, ``--output``,
``--no-color``, ``--version``) are accepted before or after the subcommand. The command
line is click's: :func:`build_cli` declares the commands, ``cli.parsing`` holds what they
share (the global options, help with examples, completion); each ``cmd_*`` function gets
the parsed line as a ``types.SimpleNamespace``.
"""

# ruff: noqa: PLC0415 - imports are deferred: moto, boto3 and the handlers load only where used

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace as Args
from typing import Any

import click

from cli import parsing
from cli.output import (
    EXIT_AWS,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    AwsAccessError,
    Failed,
    UsageError,
    access_problem,
    error_line,
    out,
    paint,
    print_json,
    progress,
)
from cli.parsing import command, option


# --------------------------------------------------------------------------- output
def _print_entries(entries: list[dict[str, Any]], *, verbose: bool = False) -> None:
    from sandbox.timeline import Entry, format_entry, noop, quiet

    for e in entries:
        entry = Entry(e.get("at", 0.0), e["kind"], e["text"], e.get("data") or {})
        if verbose or not (quiet(entry) or noop(entry)):
            out(format_entry(entry))


def _routes_exit(routes: list[dict[str, Any]], *, require_match: bool = False) -> int:
    failed = [r for r in routes if r.get("matched") and not r.get("ok")]
    if failed:
        first = failed[0]
        error_line(f"{first['function']} failed: {first['error']}")
        return EXIT_FAILED
    if require_match and not any(r.get("matched") for r in routes):
        error_line("no rule matched the event: nothing reacted")
        return EXIT_FAILED
    return EXIT_OK


def _load_event(path: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON: {exc.msg} (line {exc.lineno})") from exc
    if not isinstance(doc, dict) or "detail-type" not in doc or "source" not in doc:
        raise UsageError(
            f"{path} is not an EventBridge event (it needs 'source' and 'detail-type')"
        )
    return doc


def _parse_findings(text: str | None) -> dict[str, int]:
    from sandbox.simulator import SEVERITIES

    out: dict[str, int] = {}
    for part in filter(None, (text or "").split(",")):
        key, sep, value = part.partition("=")
        key = key.strip().upper()
        if not sep or key not in SEVERITIES or not value.strip().isdigit():
            raise UsageError(
                f"--findings: {part!r} is not SEVERITY=COUNT, SEVERITY one of "
                f"{', '.join(SEVERITIES)}"
            )
        out[key] = int(value)
    return out


# --------------------------------------------------------------------------- demo
#: where `autopilot demo` remembers how long its steps took (in the cloud assembly's directory)
DEMO_PROGRESS_FILE = "autopilot-demo-steps.json"


def cmd_demo(args: Args) -> int:
    from cli.progress import ProgressClock
    from sandbox.core import Sandbox
    from sandbox.demo import DemoContext, run_scenes
    from sandbox.synth import REPO_ROOT
    from sandbox.timeline import LEGEND, NOOP_OUTCOMES, Timeline

    started = time.perf_counter()
    timeline = Timeline(echo=not _json(args), verbose=args.verbose)
    out_dir = Path(args.out) if args.out else None
    # the steps' times, remembered beside the cloud assembly: the next run's estimates
    clock = ProgressClock(memory=(out_dir or REPO_ROOT / "cdk.out") / DEMO_PROGRESS_FILE)
    say = None if _json(args) else clock
    if not _json(args):
        out("\n".join(LEGEND) + "\n", flush=True)
    sb = Sandbox(out_dir=out_dir, progress=say, timeline=timeline, brownfield=True)
    try:
        if args.resynth:
            from sandbox.synth import synth

            sb.assembly = synth(out_dir, force=True, progress=say)
        try:
            sb.up()
        finally:
            clock.close()
        from cli.invoke import adopter, approver

        operator = DemoContext(sb, approve=approver(sb.endpoint), adopt=adopter(sb.endpoint))
        results = run_scenes(operator)
    finally:
        sb.down()
    wall = time.perf_counter() - started
    ok = all(r.ok for r in results)
    if _json(args):
        print_json(
            {
                "ok": ok,
                "seconds": round(wall, 1),
                "timings": sb.timings,
                "scenes": [
                    {
                        "title": r.title,
                        "ok": r.ok,
                        "error": r.error,
                        "skipped": r.skipped,
                        "seconds": round(r.seconds, 2),
                        "checks": [c.__dict__ for c in r.checks],
                    }
                    for r in results
                ],
                "timeline": [e.to_json() for e in timeline.entries],
            }
        )
    else:
        out()
        for r in results:
            if r.skipped:
                out(f"  SKIP  {r.title}: {r.skipped}")
                continue
            out(f"  {'PASS' if r.ok else 'FAIL'}  {r.title}  ({r.seconds:.1f} s)")
            for c in r.checks:
                if not c.ok:
                    out(f"        missed: {c.what}" + (f" ({c.detail})" if c.detail else ""))
            if r.error:
                out(f"        broke: {r.error}")
        if timeline.hidden:
            out(
                f"\n{timeline.hidden} lines hidden, -v shows them: reactions that changed "
                f"nothing ({', '.join(sorted(NOOP_OUTCOMES))}), task state changes, events no "
                "rule matched"
            )
        told = [r for r in results if not r.skipped]
        skipped = f", {len(results) - len(told)} skipped" if len(told) < len(results) else ""
        out(
            f"\n{sum(r.ok for r in told)}/{len(told)} scenes passed{skipped} in {wall:.1f} s "
            f"(synth {sb.timings.get('synth', 0):.1f} s, "
            f"deploy {sb.timings.get('deploy', 0):.1f} s)"
        )
    return EXIT_OK if ok else EXIT_FAILED


# --------------------------------------------------------------------------- local
def banner(endpoint: str, state: Path) -> list[str]:
    """What `local up` says once the sandbox is up: its endpoint and the one region it
    serves (``sandbox.server.REGION``, whatever the environment says), as the lines a
    shell or the aws CLI needs to reach it."""
    from sandbox.server import REGION

    lines = [
        f"sandbox up: AWS endpoint {endpoint}, region {REGION}, state in {state}",
        f"  export AWS_ENDPOINT_URL={endpoint} AWS_REGION={REGION} AWS_DEFAULT_REGION={REGION}",
        f"  aws --endpoint-url {endpoint} --region {REGION} ecs list-clusters",
        f"  what any client changes (the aws CLI, another shell) plays out within "
        f"{WATCH_SECONDS:g} s",
    ]
    asked = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if asked and asked != REGION:
        lines.append(
            f"  note: the environment names region {asked}; the sandbox serves {REGION} only"
        )
    return lines


#: how often `local up` catches up with changes made by other clients (``Simulator.watch``)
WATCH_SECONDS = 1.0


def cmd_local_up(args: Args) -> int:
    from sandbox.server import REGION

    if args.region and args.region != REGION:
        raise UsageError(
            f"--region {args.region}: the sandbox serves one region, {REGION} "
            "(its account, stacks and sample events are in it); leave --region out"
        )
    from sandbox.control import (
        ControlServer,
        NoSandbox,
        call,
        read_state,
        remove_state,
        write_state,
    )
    from sandbox.core import Sandbox
    from sandbox.timeline import Timeline

    if not 0.0 <= args.drop_rate <= 1.0:
        raise UsageError(f"--drop-rate {args.drop_rate}: a share between 0 and 1 (e.g. 0.2)")
    try:
        state = read_state()
        call("/info", {}, timeout=2.0)
    except NoSandbox:
        pass
    else:
        where = f"{state['endpoint']} (pid {state['pid']})"
        raise UsageError(f"a sandbox is already running at {where}")
    sb = Sandbox(
        port=args.port,
        out_dir=Path(args.out) if args.out else None,
        progress=progress,
        timeline=Timeline(echo=True, verbose=args.verbose),
        brownfield=args.brownfield,
        drop_rate=args.drop_rate,
        drop_seed=args.drop_seed,
    )
    try:
        sb.up()
    except OSError as exc:
        raise UsageError(str(exc)) from exc
    control = ControlServer(sb).start()
    path = write_state(sb, control.url)
    assert sb.simulator is not None  # up() started it
    sb.simulator.watch(WATCH_SECONDS)
    for line in banner(sb.endpoint, path):
        out(line, flush=True)
    out("stop with Ctrl-C", flush=True)
    stop = {"now": False}

    def _stop(*_: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)  # also when started in the background
    try:
        while not stop["now"]:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        sb.simulator.unwatch()
        control.stop()
        remove_state()
        sb.down()
        out("sandbox stopped", flush=True)
    return EXIT_OK


def _local_call(
    path: str,
    body: dict[str, Any],
    args: Args,
    *,
    require_match: bool = False,
    show_all: bool = False,
) -> int:
    """Call the sandbox's control endpoint; print its timeline (reactions that change
    nothing only with ``-v``, or ``show_all``: the one event a user emitted)."""
    from sandbox.control import BadRequest, NoSandbox, call

    try:
        doc = call(path, body)
    except NoSandbox as exc:
        raise UsageError(str(exc)) from exc
    except BadRequest as exc:
        raise UsageError(str(exc)) from exc
    if _json(args):
        print_json(doc)
    else:
        _print_entries(doc.get("timeline", []), verbose=show_all or args.verbose)
    return _routes_exit(doc.get("routes", []), require_match=require_match)


def cmd_local_push(args: Args) -> int:
    repo, sep, tag = args.image.rpartition(":")
    if not sep or not repo or "/" in tag:
        repo, tag = args.image, None
        if "@" in repo:
            raise UsageError(
                "push REPO:TAG (a new image is generated; "
                "pushing an existing digest is not supported)"
            )
    return _local_call(
        "/push",
        {
            "repository": repo,
            "tag": tag or None,
            "findings": _parse_findings(args.findings),
            "crashing": args.crashing,
            "scanner": args.scanner,
            "platforms": _parse_platforms(args.platforms, attestation=args.attestation),
            "attestation": args.attestation,
            "drop_event": args.drop_event,
        },
        args,
    )


def _parse_platforms(value: str | None, *, attestation: bool) -> list[str]:
    """``--platforms linux/amd64,linux/arm64`` -> the platforms of an image index."""
    platforms = [p.strip() for p in (value or "").split(",") if p.strip()]
    bad = [p for p in platforms if not re.fullmatch(r"[a-z0-9]+/[a-z0-9]+", p)]
    if bad:
        raise UsageError(f"--platforms takes OS/ARCH, comma-separated (e.g. linux/arm64): {bad[0]}")
    if attestation and not platforms:
        raise UsageError("--attestation goes with --platforms (an image index)")
    return platforms


def cmd_local_emit(args: Args) -> int:
    from sandbox.router import missing_envelope_fields

    event = _load_event(args.event)
    missing = missing_envelope_fields(event)
    if missing:
        raise UsageError(
            f"{args.event} is not a complete EventBridge event: it lacks {', '.join(missing)} "
            "(EventBridge sets every one; see events/ for real ones)"
        )
    body = {"event": event, "as_is": args.as_is}
    return _local_call("/emit", body, args, require_match=True, show_all=True)


def cmd_local_alarm(args: Args) -> int:
    return _local_call(
        "/alarm", {"name": args.name, "state": args.state, "reason": args.reason}, args
    )


def cmd_local_tick(args: Args) -> int:
    return _local_call("/tick", {"rule": args.rule}, args)


def cmd_local_expire(args: Args) -> int:
    """A lifecycle expiry run in the sandbox (moto runs none): what each repository's
    lifecycle policy expires is deleted, as ECR would."""
    from sandbox.control import BadRequest, NoSandbox, call

    try:
        doc = call("/expire", {"repository": args.repository})
    except NoSandbox as exc:
        raise UsageError(str(exc)) from exc
    except BadRequest as exc:
        raise UsageError(str(exc)) from exc
    if _json(args):
        print_json(doc)
        return EXIT_OK
    expired: dict[str, list[dict[str, Any]]] = doc.get("expired", {})
    for repo, gone in expired.items():
        for e in gone:
            tags = ", ".join(e.get("tags") or []) or "untagged"
            out(f"expired {repo}@{e['digest']} ({tags}) by rule {e['rule']}")
    total = sum(len(g) for g in expired.values())
    out(f"lifecycle expiry: {total} image(s) expired in {len(expired)} repositor(y/ies)")
    return EXIT_OK


def cmd_local_stop_tasks(args: Args) -> int:
    return _local_call("/stop-tasks", {"service": args.service, "az": args.az}, args)


def cmd_local_info(args: Args) -> int:
    from sandbox.control import NoSandbox, call, read_state

    try:
        state = read_state()
        doc = call("/info", {})
    except NoSandbox as exc:
        raise UsageError(str(exc)) from exc
    if _json(args):
        print_json(doc)
        return EXIT_OK
    out(f"endpoint {state['endpoint']}  (pid {state['pid']})")
    for r in doc.get("rules", []):
        out(f"  rule {r['name']} -> {', '.join(r['functions'])}")
    for name, s in doc.get("services", {}).items():
        out(f"  service {name}: {s['taskDefinition'].rsplit('/', 1)[-1]}  tasks {s['spread']}")
    return EXIT_OK


# --------------------------------------------------------------------------- invoke
def _endpoint(args: Args) -> str | None:
    return args.endpoint or os.environ.get("AWS_ENDPOINT_URL")


def _offline(args: Args) -> bool:
    """``invoke`` runs against a throwaway sandbox unless an endpoint, a profile or
    ``--aws`` says where AWS is (as ``sam local invoke`` runs a function locally)."""
    return not (_endpoint(args) or args.profile or os.environ.get("AWS_PROFILE") or args.aws)


@contextlib.contextmanager
def _throwaway_sandbox(args: Args) -> Iterator[str]:
    """A sandbox in this process with the stacks deployed, for one invocation: its
    endpoint, then it is gone. Its progress goes to stderr; stdout keeps the result."""
    from cli.progress import ProgressClock
    from sandbox.core import Sandbox
    from sandbox.synth import REPO_ROOT

    print(
        "no --endpoint-url, --profile or --aws: invoking against a throwaway sandbox "
        "(the stacks synthesized and deployed into an in-process moto first)",
        file=sys.stderr,
        flush=True,
    )
    clock = ProgressClock(memory=REPO_ROOT / "cdk.out" / DEMO_PROGRESS_FILE, stream=sys.stderr)
    sb = Sandbox(progress=clock)
    try:
        try:
            sb.up()
        finally:
            clock.close()
        yield sb.endpoint
    finally:
        sb.down()


def cmd_invoke(args: Args) -> int:
    from cli.invoke import InvokeError, check_function, invoke

    event = _load_event(args.event)
    try:
        check_function(args.function)  # bad usage is told before any sandbox starts
        if _offline(args):
            from sandbox.router import rehome_event

            with _throwaway_sandbox(args) as endpoint:
                outcome = invoke(
                    args.function,
                    rehome_event(event),  # into the sandbox's account and region
                    endpoint=endpoint,
                    dry_run=args.dry_run,
                    function_name=args.function_name,
                )
            outcome.endpoint = None  # the throwaway sandbox is gone
            outcome.throwaway = True
        else:
            outcome = invoke(
                args.function,
                event,
                endpoint=_endpoint(args),
                dry_run=args.dry_run,
                function_name=args.function_name,
            )
    except InvokeError as exc:
        raise UsageError(str(exc)) from exc
    if _json(args):
        print_json(outcome.to_json())
    else:
        _print_invoke(outcome)
    if args.verbose and outcome.logs:
        print(outcome.logs, file=sys.stderr)
    if outcome.mutating_calls and args.dry_run:
        print(
            f"error: the dry run made {len(outcome.mutating_calls)} mutating call(s): "
            f"{', '.join(outcome.mutating_calls)}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if outcome.error:
        error_line(f"{outcome.error}")
        return EXIT_FAILED if not outcome.bad_input else EXIT_USAGE
    return EXIT_OK


def _print_invoke(outcome: Any) -> None:
    """``invoke``'s result for people: each decision, then the AWS calls made."""
    report = outcome.report or {}
    run = "dry run" if outcome.dry_run else "run"
    where = outcome.function_name or "no deployed function found"
    if outcome.throwaway:
        where += " in a throwaway sandbox"
    out(f"{outcome.function} ({where}), {run} on event {report.get('event_id') or '-'}")
    for d in report.get("decisions") or []:
        service = str(d.get("service", "")).rsplit("/", 1)[-1]
        out(f"  {d.get('outcome', '?'):16} {service:20} {d.get('reason', '')}")
    for a in report.get("actions") or []:
        state = "done" if a.get("done") else "planned"
        out(f"  {state:16} {a.get('api')}")
    mutating = len(outcome.mutating_calls)
    out(f"aws calls: {len(outcome.calls)} ({mutating} mutating)")


def _split_outcomes(text: str | None) -> list[str] | None:
    return [o.strip() for o in text.split(",") if o.strip()] if text else None


def cmd_history(args: Args) -> int:
    from cli.controls import OperatorError
    from cli.invoke import InvokeError, history

    try:
        rows = history(
            args.service,
            endpoint=_endpoint(args),
            table=args.table,
            limit=None if args.since and args.limit is None else (args.limit or 50),
            since=args.since,
            outcomes=_split_outcomes(args.outcome),
            stack=args.stack,
            cluster=args.cluster,
            source=args.source,
        )
    except (InvokeError, OperatorError) as exc:
        raise UsageError(str(exc)) from exc
    if _json(args):
        print_json(rows)  # every decision: the hiding below is for people
        return EXIT_OK
    if not rows:
        what = {"ledger": "decisions", "ecs": "ECS service deployments"}.get(
            args.source, "decisions or ECS service deployments"
        )
        out(f"no {what} recorded for {args.service}")
        return EXIT_OK
    hidden: list[dict[str, Any]] = []
    if not args.all and not args.outcome:
        from sandbox.timeline import NOOP_OUTCOMES

        hidden = [r for r in rows if r.get("outcome") in NOOP_OUTCOMES]
        rows = [r for r in rows if r.get("outcome") not in NOOP_OUTCOMES]
    cells = [
        (
            str(r.get("event_time") or r.get("decided_at") or "")[:19],
            str(r.get("outcome", "?")),
            _history_image(r),
            "ecs" if r.get("source") == "ecs" else str(r.get("function", "")),
            short_id(str(r.get("event_id", ""))),
            str(r.get("reason", "")),
        )
        for r in rows
    ]
    if args.output == "table" and cells:
        _table(("TIME", "OUTCOME", "IMAGE", "FUNCTION", "EVENT", "REASON"), cells)
    elif args.output != "table":
        for at, outcome, what, function, event, reason in cells:
            out(f"{at:19}  {_outcome(outcome, 16)} {what:14} {reason}  [{function} {event}]")
    if hidden:
        _hidden_note(hidden)
    return EXIT_OK


def _history_image(row: dict[str, Any]) -> str:
    """A history row's IMAGE cell: the decision's tag or digest; for ECS's service
    deployment, what it deploys (``family:revision``, else the revision's id)."""
    if row.get("source") != "ecs":
        return str(row.get("tag") or (row.get("digest") or "")[:19])
    target = (row.get("ecs_deployment") or {}).get("target_revision") or {}
    task_definition = str(target.get("task_definition") or "")
    if task_definition:
        return task_definition.rsplit("/", 1)[-1]
    return str(target.get("arn") or "").rsplit("/", 1)[-1][:19]


def _hidden_note(hidden: list[dict[str, Any]]) -> None:
    """What ``history`` left out (decisions that changed nothing) and how to see it: on
    stderr, so that stdout holds the rows alone (``history web | grep ...``)."""
    counts: dict[str, int] = {}
    for r in hidden:
        counts[str(r.get("outcome"))] = counts.get(str(r.get("outcome")), 0) + 1
    each = ", ".join(f"{n} {o}" for o, n in sorted(counts.items(), key=lambda c: (-c[1], c[0])))
    lines = "line" if len(hidden) == 1 else "lines"
    print(
        f"{len(hidden)} {lines} hidden, --all shows them: decisions that changed nothing ({each})",
        file=sys.stderr,
    )


#: how outcomes are coloured on a terminal (the others stay plain)
_OUTCOME_COLOUR = {
    "deployed": "green",
    "rebalanced": "green",
    "scaled": "green",
    "restored": "green",
    "blocked": "red",
    "failed": "red",
    "rolled-back": "red",
    "rejected": "red",
    "quarantined": "red",
    "crash-loop": "red",
    "pending-approval": "yellow",
    "awaiting-scan": "yellow",
    "paused": "yellow",
}


def _outcome(outcome: str, width: int) -> str:
    """``outcome`` padded to ``width``, coloured on a terminal (the padding stays plain)."""
    colour = _OUTCOME_COLOUR.get(outcome)
    padded = f"{outcome:{width}}"
    if colour is None:
        return padded
    return paint(outcome, colour) + padded[len(outcome) :]


def short_id(event_id: str) -> str:
    """An event id people can tell apart and search for: a UUID's first 8 characters; an
    operator command's ``approve-<uuid>`` as ``approve-<8>``; a task's state change
    (``<task ARN>#<version>``) as ``task/<task id's first 12>#<version>``."""
    if event_id.startswith("arn:"):
        arn, sep, version = event_id.partition("#")
        resource = arn.split(":", 5)[-1]
        kind = resource.split("/", 1)[0]
        return f"{kind}/{resource.rsplit('/', 1)[-1][:12]}{sep}{version}"
    head, sep, rest = event_id.partition("-")
    if sep and head.isalpha() and len(rest) > 8:
        return f"{head}-{rest[:8]}"
    return event_id[:8] if len(event_id) > 12 else event_id


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """Aligned columns under ``header`` (the last column is not padded)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header[:-1])]
    out("  ".join(f"{h:{w}}" for h, w in zip(header, [*widths, 0], strict=True)).rstrip())
    for r in rows:
        first = "  ".join(f"{c:{w}}" for c, w in zip(r[:-1], widths, strict=True))
        out(f"{first}  {r[-1]}".rstrip())


# --------------------------------------------------------------------------- operator
def _operator(args: Args) -> tuple[Any, Any]:
    """(clients, target) for the operator commands, from --endpoint/--stack/--table/--cluster."""
    from cli.invoke import InvokeError, locate, operator_clients

    endpoint = _endpoint(args)
    try:
        target = locate(endpoint, stack=args.stack, table=args.table, cluster=args.cluster)
    except InvokeError as exc:
        raise UsageError(str(exc)) from exc
    return operator_clients(endpoint), target


def _control(args: Args, action: str) -> int:
    from cli import controls as operator
    from cli.invoke import InvokeError, actor

    try:  # first: without credentials this is the one clear line, not "no ledger table"
        who = actor(_endpoint(args))
    except InvokeError as exc:
        raise UsageError(str(exc)) from exc
    aws, target = _operator(args)
    reason = getattr(args, "reason", None)
    try:
        if action == "approve":
            result = operator.approve(aws, target, args.service, args.digest, actor=who)
        elif action == "reject":
            result = operator.reject(
                aws, target, args.service, args.digest, actor=who, reason=reason
            )
        elif action == "rollback":
            result = operator.rollback(
                aws,
                target,
                args.service,
                actor=who,
                to=args.to,
                quarantine=args.quarantine,
                reason=reason,
                dry_run=args.dry_run,
            )
        elif action == "pause":
            result = operator.pause(aws, target, args.service, actor=who, reason=reason)
        else:
            result = operator.resume(aws, target, args.service, actor=who, reason=reason)
    except operator.OperatorError as exc:
        raise UsageError(str(exc)) from exc
    if _json(args):
        print_json(result.to_json())
    else:
        out(result.message)
    if not result.ok:
        return EXIT_FAILED
    return EXIT_OK


def cmd_approve(args: Args) -> int:
    return _control(args, "approve")


def cmd_rollback(args: Args) -> int:
    return _control(args, "rollback")


def cmd_reject(args: Args) -> int:
    return _control(args, "reject")


def cmd_pause(args: Args) -> int:
    return _control(args, "pause")


def cmd_resume(args: Args) -> int:
    return _control(args, "resume")


def cmd_status(args: Args) -> int:
    from cli import controls as operator

    aws, target = _operator(args)
    try:
        services = operator.status(aws, target)
    except operator.OperatorError as exc:
        raise UsageError(str(exc)) from exc
    if _json(args):
        print_json(
            {
                "cluster": target.cluster_arn,
                "clusters": list(target.cluster_arns),
                "table": target.table,
                "services": services,
            }
        )
        return EXIT_OK
    if not services:
        out(f"no tracked service in {', '.join(target.cluster_arns)}")
        return EXIT_OK
    if args.output == "table":
        _status_table(services)
        return EXIT_OK
    for s in services:
        _print_status(s)
    return EXIT_OK


def cmd_wait(args: Args) -> int:
    from cli import controls as operator

    if args.timeout <= 0 or args.interval <= 0:
        raise UsageError("--timeout and --interval take a number of seconds above 0")
    aws, target = _operator(args)
    say = None if _json(args) else (lambda line: progress(f"{args.service}: {line}"))
    try:
        result = operator.wait(
            aws,
            target,
            args.service,
            digest=args.digest,
            timeout=args.timeout,
            interval=args.interval,
            say=say,
        )
    except operator.OperatorError as exc:
        raise UsageError(str(exc)) from exc
    if _json(args):
        print_json(result.to_json())
    else:
        out(f"{args.service}: {result.message}")
    return EXIT_OK if result.ok else EXIT_FAILED


def _status_table(services: list[dict[str, Any]]) -> None:
    """One aligned row per service (``--output table``)."""
    rows = []
    for s in services:
        running = s.get("running") or {}
        last = s.get("last_decision") or {}
        rows.append(
            (
                str(s["service"]) + ("" if s["active"] else " (not active)"),
                str(running.get("tag") or "-"),
                str(running.get("digest") or "-")[:19],
                _tasks(s.get("counts")),
                str((s.get("deployment") or {}).get("rollout_state") or "-"),
                _stage(s.get("service_deployment")),
                str((s.get("last_known_good") or {}).get("digest") or "-")[:19],
                str(len(s.get("pending_approvals") or [])),
                "yes" if s.get("paused") else "no",
                str(last.get("outcome") or "-"),
            )
        )
    header = ("SERVICE", "TAG", "DIGEST", "TASKS", "ROLLOUT", "STAGE", "LAST GOOD", "APPROVALS")
    _table((*header, "PAUSED", "LAST"), rows)


def _stage(record: dict[str, Any] | None) -> str:
    """ECS's record of the newest deployment, as ``--output table`` shows it: the strategy's
    current stage, or "waiting for approval at <stage>" at a pause hook."""
    if not record:
        return "-"
    waiting = record.get("waiting_for_approval")
    if waiting:
        return f"waiting for approval at {waiting.get('stage') or 'a pause hook'}"
    return str(record.get("lifecycle_stage") or record.get("status") or "-")


def _tasks(counts: dict[str, int] | None) -> str:
    """desired/running/pending, as ``--output table`` shows them."""
    if not counts:
        return "-"
    return f"{counts['desired']}/{counts['running']}/{counts['pending']}"


def _print_status(s: dict[str, Any]) -> None:
    def short(digest: str | None) -> str:
        return (digest or "")[:19] or "-"

    head = s["service"]
    if not s["active"]:
        head += "  (not active)"
    if s.get("paused"):
        p = s["paused"]
        head += f"  {paint('PAUSED', 'yellow')} by {p.get('by')} at {p.get('at')}"
        head += f": {p['reason']}" if p.get("reason") else ""
    out(head)
    running = s.get("running") or {}
    if s.get("repository"):
        out(f"  {'repository':12} {s['repository']}  (approval {s.get('approval') or 'auto'})")
    revision = str(running.get("task_definition") or "-").rsplit("/", 1)[-1]
    out(
        f"  {'running':12} {running.get('tag') or '-'}  {short(running.get('digest'))}  "
        f"({revision})"
    )
    counts = s.get("counts")
    if counts:
        out(
            f"  {'tasks':12} desired {counts['desired']}, running {counts['running']}, "
            f"pending {counts['pending']}"
        )
    deployment = s.get("deployment")
    if deployment:
        others = int(s.get("deployments") or 1) - 1
        also = f", {others} other deployment{'s' if others > 1 else ''}" if others else ""
        why = deployment.get("rollout_state_reason")
        out(
            f"  {'rollout':12} {deployment.get('rollout_state') or '-'}"
            + (f": {why}" if why else "")
            + f"  ({deployment.get('id')}{also})"
        )
    record = s.get("service_deployment")
    if record:
        target = record.get("target_counts") or {}
        stage = f" at {record['lifecycle_stage']}" if record.get("lifecycle_stage") else ""
        out(
            f"  {'ecs record':12} {record.get('status')}{stage} ({record.get('strategy') or '-'}), "
            f"new revision requested {target.get('requested', 0)}, running "
            f"{target.get('running', 0)}, pending {target.get('pending', 0)}"
        )
        waiting = record.get("waiting_for_approval")
        if waiting:
            out(
                f"  {'':12} {paint(_stage(record), 'yellow')} until {waiting.get('expires_at')}: "
                f"autopilot approve {s['service']} (or reject)"
            )
    lkg = s.get("last_known_good")
    if lkg:
        out(
            f"  {'last good':12} {short(lkg.get('digest'))}  "
            f"({str(lkg.get('task_definition')).rsplit('/', 1)[-1]}, {lkg.get('at')})"
        )
    for digest in s.get("quarantined") or []:
        out(f"  {'quarantined':12} {digest}")
    for v in s.get("vulnerable") or []:
        found = ", ".join(f"{k}={n}" for k, n in sorted((v.get("counts") or {}).items()))
        out(f"  {'vulnerable':12} {v.get('digest')}  {found or v.get('verdict')}")
    for a in s.get("pending_approvals") or []:
        out(
            f"  {'pending':12} {a.get('tag') or '-'}  {short(a.get('digest'))}  "
            f"expires {a.get('expires')}\n"
            f"  {'':12} autopilot approve {s['service']} {a.get('digest')}"
        )
    last = s.get("last_decision")
    if last:
        out(
            f"  {'last':12} {_outcome(str(last.get('outcome')), 0)} at {str(last.get('at'))[:19]} "
            f"({last.get('function')}): {last.get('reason')}"
        )


# --------------------------------------------------------------------------- adopt
def cmd_adopt(args: Args) -> int:
    from cli import adopt as adoption
    from cli.invoke import InvokeError, _client, control_plane, operator_clients

    endpoint = _endpoint(args)
    try:
        choices = adoption.options(
            repository=args.repository,
            container=args.container,
            policy=args.policy,
            scan=args.scan,
            approval=args.approval,
            rebalance=args.rebalance,
        )
        plane = control_plane(
            endpoint,
            stack=args.stack,
            managed_clusters_=args.managed_clusters,
            repositories=args.repositories,
            pass_roles=args.pass_roles,
        )
        report = adoption.adopt(
            operator_clients(endpoint),
            args.cluster,
            plane,
            choices,
            services=args.service,
            mode="apply" if args.apply else "undo" if args.undo else "dry-run",
            role_tags=adoption.iam_role_tags(_client("iam", endpoint)),
        )
    except (adoption.AdoptError, InvokeError) as exc:
        raise UsageError(str(exc)) from exc
    if _json(args):
        print_json(report.to_json())
    else:
        out("\n".join(adoption.render(report)))
    if not report.ok:
        failed = next(o for o in report.outcomes if o.error)
        error_line(f"{failed.judgement.service}: {failed.error}")
        return EXIT_FAILED
    return EXIT_OK


# --------------------------------------------------------------------------- the command line
SERVICE_HELP = "service: its name (unique among the managed clusters), CLUSTER/NAME or ARN"
CLUSTER_HELP = "a managed cluster's ARN"
OUT_HELP = "cloud assembly directory (default: cdk.out, reused when fresh)"
#: what `local tick` completes (the schedule rules' last words)
SCHEDULE_RULES = ("reconcile", "recheck")


def _complete(words: Sequence[str] | Callable[[], Sequence[str]]) -> Any:
    """A click ``shell_complete`` callback offering ``words`` that start with what is typed."""

    def offer(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
        return [w for w in (words() if callable(words) else words) if w.startswith(incomplete)]

    return offer


def _functions() -> list[str]:
    from autopilot.contract import FUNCTIONS

    return list(FUNCTIONS)


def _event_argument(help: str) -> click.Argument:
    return click.Argument(
        ["event"], metavar="EVENT.json", type=click.Path(allow_dash=True), help=help
    )


def _service_argument() -> click.Argument:
    return click.Argument(["service"], help=SERVICE_HELP)


def _reason(help: str = "why (recorded and announced)") -> click.Option:
    return option("--reason", help=help)


def _where() -> list[click.Parameter]:
    """Where the operator commands find the control plane."""
    return [
        option(
            "--stack",
            help="the deployed stack whose outputs name the ledger table and cluster "
            "(default: EcsAutopilot-<environment of the config file cdk.json names>)",
        ),
        option("--table", help="ledger table (default: from the stack's outputs)"),
        option(
            "--cluster",
            multiple=True,
            help=f"{CLUSTER_HELP} (repeat, or comma-separate, for several; default: "
            "the managed clusters the stack's outputs name)",
        ),
    ]


def _optional_digest_argument() -> click.Argument:
    return click.Argument(
        ["digest"],
        required=False,
        help=(
            "sha256:... (or a unique prefix) of a pending approval; without it, the deployment "
            "waiting at a pause hook (manual-traffic), else the one pending approval"
        ),
    )


def _local_commands(local: click.Group) -> None:
    """``autopilot local ...``: the sandbox."""
    command(
        local,
        "up",
        cmd_local_up,
        help="start the sandbox in the foreground until Ctrl-C",
        example=["autopilot local up", "autopilot local up --port 4599 --brownfield"],
        verbose=True,
        params=[
            option("--port", type=int, help="port of the local AWS endpoint (default: a free one)"),
            option("--out", help=OUT_HELP),
            option(
                "--brownfield",
                is_flag=True,
                help="also a cluster and services made by plain API calls (sandbox/brownfield.py)",
            ),
            option(
                "--drop-rate",
                type=float,
                default=0.0,
                metavar="SHARE",
                help="lose this share (0 to 1) of ECR push and scan events, as EventBridge may",
            ),
            option(
                "--drop-seed", type=int, default=0, help="seed of which events --drop-rate loses"
            ),
        ],
    )
    command(
        local,
        "push",
        cmd_local_push,
        help="push a new image and route what AWS would emit",
        example=[
            "autopilot local push demo/web:1.5.0",
            "autopilot local push demo/web:1.6.0 --findings CRITICAL=1",
        ],
        verbose=True,
        params=[
            click.Argument(["image"], metavar="REPO:TAG", help="the repository and new tag"),
            option("--findings", help="scan findings, e.g. CRITICAL=1,HIGH=2 (default: clean)"),
            option("--crashing", is_flag=True, help="the image's tasks exit at start"),
            option(
                "--scanner",
                type=click.Choice(["basic", "inspector2", "none"]),
                help="override the registry's scanning configuration",
            ),
            option(
                "--platforms",
                metavar="OS/ARCH,...",
                help="push an image index of one manifest per platform, e.g. "
                "linux/amd64,linux/arm64",
            ),
            option(
                "--attestation",
                is_flag=True,
                help="with --platforms: add buildx's provenance attestation "
                "(platform unknown/unknown)",
            ),
            option(
                "--drop-event",
                is_flag=True,
                help="the push's events (push and scan) never reach the rules: the image is in "
                "ECR for the reconciler's sweep to find",
            ),
        ],
    )
    command(
        local,
        "emit",
        cmd_local_emit,
        help="route one event through the deployed rules",
        example=[
            "autopilot local emit events/ecr-image-scan-critical.json",
            "cat event.json | autopilot local emit -",
        ],
        verbose=True,
        params=[
            _event_argument("an EventBridge event (- for stdin)"),
            option(
                "--as-is",
                is_flag=True,
                help="keep the event's account and region (default: rewritten to the sandbox's)",
            ),
        ],
    )
    command(
        local,
        "alarm",
        cmd_local_alarm,
        help="set an alarm's state and route the state change",
        example=["autopilot local alarm demo-web-errors ALARM --reason 'error rate'"],
        verbose=True,
        params=[
            click.Argument(["name"], help="the CloudWatch alarm's name"),
            click.Argument(
                ["state"],
                type=click.Choice(["ALARM", "OK", "INSUFFICIENT_DATA"]),
                help="its new state",
            ),
            option("--reason", help="the state change's reason"),
        ],
    )
    command(
        local,
        "stop-tasks",
        cmd_local_stop_tasks,
        help="a zone loses a service's tasks",
        example=["autopilot local stop-tasks api --az eu-west-1a"],
        verbose=True,
        params=[
            click.Argument(["service"], help="the service's name"),
            option("--az", required=True, help="the availability zone that loses them"),
        ],
    )
    command(
        local,
        "tick",
        cmd_local_tick,
        help="fire the schedule rules once (EventBridge's clock)",
        example=["autopilot local tick", "autopilot local tick reconcile"],
        verbose=True,
        params=[
            click.Argument(
                ["rule"],
                required=False,
                shell_complete=_complete(SCHEDULE_RULES),
                help="only this schedule rule: its name or last word (reconcile, recheck)",
            )
        ],
    )
    command(
        local,
        "expire",
        cmd_local_expire,
        help="run the repositories' ECR lifecycle policies once (moto never does): what they "
        "expire is deleted",
        example=["autopilot local expire", "autopilot local expire demo/web"],
        params=[
            click.Argument(
                ["repository"], required=False, help="only this repository (default: all)"
            )
        ],
    )
    command(
        local,
        "info",
        cmd_local_info,
        help="what the running sandbox holds",
        example=["autopilot local info", "autopilot local info --json"],
    )


def _operator_commands(root: click.Group) -> None:
    """history, status, wait, rollback, approve, reject, pause, resume: against the sandbox
    or an account."""
    command(
        root,
        "history",
        cmd_history,
        help="the ledger's decisions for one service beside ECS's service deployments of it "
        "(OUTCOME ecs:<STATE>, FUNCTION ecs), newest first",
        example=[
            "autopilot history web",
            "autopilot history web --since 2h --outcome deployed,blocked",
            "autopilot history web --outcome rolled-back,ecs:ROLLBACK_SUCCESSFUL",
            "autopilot history web --source ecs --output json",
        ],
        params=[
            _service_argument(),
            option("--limit", type=int, help="at most N rows (default 50, all with --since)"),
            option(
                "--since",
                help="only decisions and deployments since: 30m, 2h, 7d, or an ISO-8601 time",
            ),
            option(
                "--outcome",
                help="only these outcomes, comma-separated (deployed,blocked); ECS's states as "
                "ecs:<STATE> (ecs:ROLLBACK_SUCCESSFUL); naming none of ECS's hides ECS's rows, "
                "naming only ECS's hides the ledger's; shows no-ops it names",
            ),
            option(
                "--source",
                type=click.Choice(["all", "ledger", "ecs"]),
                default="all",
                show_default=True,
                help="the ledger's decisions, ECS's service deployments (ListServiceDeployments, "
                "DescribeServiceDeployments), or both",
            ),
            option(
                "--all",
                "all",
                is_flag=True,
                help="also the decisions that changed nothing (debounced, balanced, unchanged, "
                "ignored, duplicate), hidden by default (--output json always has them)",
            ),
            *_where(),
        ],
    )
    command(
        root,
        "status",
        cmd_status,
        help="every tracked service: running digest and tag, last known good, quarantined, "
        "pending approvals, paused, last decision",
        example=["autopilot status", "autopilot status --output table --region eu-west-1"],
        params=_where(),
    )
    command(
        root,
        "wait",
        cmd_wait,
        help="until SERVICE is steady on the expected digest (exit 0), or its deployment "
        "failed or was rolled back, or the timeout passed (exit 1)",
        example=["autopilot wait web --timeout 900 && ./smoke-test.sh"],
        params=[
            _service_argument(),
            option(
                "--digest",
                help="the image digest to wait for (default: the ledger's newest deploy of "
                "SERVICE)",
            ),
            option(
                "--timeout",
                type=float,
                default=600.0,
                help="give up after S seconds (default 600)",
            ),
            option("--interval", type=float, default=5.0, help="poll every S seconds (default 5)"),
            *_where(),
        ],
    )
    command(
        root,
        "rollback",
        cmd_rollback,
        help="move SERVICE back to its last known good (or --to a digest it ran before), as "
        "autopilot's own rollbacks: lease, ledger, notice",
        example=[
            "autopilot rollback web --dry-run",
            "autopilot rollback web --quarantine --reason 'checkout errors'",
        ],
        params=[
            _service_argument(),
            option(
                "--to",
                metavar="DIGEST",
                help="sha256:... (or a unique start of it) the ledger records SERVICE ran "
                "(default: its last known good)",
            ),
            option(
                "--quarantine",
                is_flag=True,
                help="also quarantine the digest rolled back from: no push or approval deploys "
                "it again",
            ),
            _reason(),
            option(
                "--dry-run", is_flag=True, help="say what it would do; change and record nothing"
            ),
            *_where(),
        ],
    )
    command(
        root,
        "approve",
        cmd_approve,
        help="deploy a pending approval, or continue a deployment at its pause hook",
        example=["autopilot approve web sha256:4f1c2a", "autopilot approve web"],
        params=[_service_argument(), _optional_digest_argument(), *_where()],
    )
    command(
        root,
        "reject",
        cmd_reject,
        help="refuse a pending approval for good, or roll back a deployment at its pause hook",
        example=[
            "autopilot reject web sha256:4f1c2a --reason 'not this release'",
            "autopilot reject web --reason 'errors on test traffic'",
        ],
        params=[_service_argument(), _optional_digest_argument(), _reason(), *_where()],
    )
    command(
        root,
        "pause",
        cmd_pause,
        help="hold every reaction for one service (recorded)",
        example=["autopilot pause web --reason 'load test until 14:00'"],
        params=[
            _service_argument(),
            _reason("why (recorded, shown in status, announced)"),
            *_where(),
        ],
    )
    command(
        root,
        "resume",
        cmd_resume,
        help="release a paused service",
        example=["autopilot resume web --reason 'load test over'"],
        params=[_service_argument(), _reason(), *_where()],
    )


def _one_way_to_act(ctx: click.Context) -> None:
    if ctx.params.get("apply") and ctx.params.get("undo"):
        raise click.UsageError("--apply and --undo exclude each other: give one", ctx=ctx)


def _adopt_command(root: click.Group) -> None:
    command(
        root,
        "adopt",
        cmd_adopt,
        help="can autopilot manage an existing cluster's services, and why not; the tags that "
        "opt them in (written with --apply)",
        example=[
            "autopilot adopt legacy-cluster",
            "autopilot adopt legacy-cluster --service shop --approval manual --apply",
        ],
        check=_one_way_to_act,
        params=[
            click.Argument(["cluster"], metavar="CLUSTER", help="the cluster's name or ARN"),
            option(
                "--service",
                multiple=True,
                metavar="NAME",
                help="only this service (repeat for several; default: every service of the "
                "cluster)",
            ),
            option("--policy", help="autopilot:policy to write (default semver)"),
            option(
                "--scan", help="autopilot:scan to write: critical, high or off (default critical)"
            ),
            option("--approval", help="autopilot:approval to write: auto or manual (default auto)"),
            option(
                "--repository",
                help="the ECR repository to track (default: the one the image comes from)",
            ),
            option(
                "--container",
                help="the container to update (default: the one running the repository)",
            ),
            option(
                "--rebalance",
                help="autopilot:rebalance to write: on or off (default on; off for DAEMON)",
            ),
            option("--apply", is_flag=True, help="write the tags (default: a dry run)"),
            option("--undo", is_flag=True, help="remove every autopilot:* tag"),
            option(
                "--stack",
                help="the control plane's stack, whose outputs say what it manages (default: "
                "EcsAutopilot-<environment of the config file cdk.json names>)",
            ),
            option(
                "--managed-clusters",
                metavar="ARNS",
                help="the clusters the control plane manages, comma-separated (default: the "
                "stack's ManagedClusterArns)",
            ),
            option(
                "--repositories",
                metavar="FILTER",
                help="the repositories it covers: * or name:<repo>/prefix:<start> items "
                "(default: the stack's ManagedRepositories)",
            ),
            option(
                "--pass-roles",
                metavar="ROLES",
                help="the roles it may pass: role ARNs (* matches), path:/PREFIX/ or "
                "tag:KEY=VALUE, comma-separated, or - for none (default: the stack's PassRoles)",
            ),
        ],
    )


def cmd_completion(args: Args) -> int:
    out(parsing.completion_script(build_cli(), args.shell))
    return EXIT_OK


def build_cli() -> click.Group:
    """The ``autopilot`` command: its groups and commands (``cli.parsing`` has the rest)."""
    root = parsing.group(
        "autopilot",
        help="ecs-autopilot: the sandbox, the demo, handler invocations and the operator controls",
        epilog="\b\nExit codes: 0 done, 1 a reaction did not happen or failed, 2 bad usage or "
        "input,\n3 credentials, region, profile or endpoint problem.\n\n"
        + parsing.examples(
            "autopilot local up",
            "autopilot --region eu-west-1 status --output table",
            'eval "$(autopilot completion bash)"',
        ),
    )
    command(
        root,
        "demo",
        cmd_demo,
        help="the whole event loop offline, as a timeline of scenes",
        example=["autopilot demo", "autopilot demo -v --out cdk.out"],
        verbose=True,
        params=[
            option("--out", help=OUT_HELP),
            option("--resynth", is_flag=True, help="synthesize even when cdk.out is fresh"),
        ],
    )
    local = parsing.group(
        "local",
        help="the sandbox: embedded local AWS with the stacks deployed",
        epilog=parsing.examples("autopilot local up", "autopilot local push demo/web:1.5.0"),
    )
    root.add_command(local)
    _local_commands(local)
    command(
        root,
        "invoke",
        cmd_invoke,
        help="run one handler on one event and print its decision",
        example=[
            "autopilot invoke image-events events/ecr-image-push.json --dry-run",
            "autopilot invoke reconciler events/scheduled-event-reconcile.json "
            "--endpoint-url http://127.0.0.1:4599",
        ],
        verbose=True,
        params=[
            click.Argument(
                ["function"],
                shell_complete=_complete(_functions),
                help=f"one of the functions: {', '.join(_functions())}",
            ),
            _event_argument("an EventBridge event (- for stdin)"),
            option("--dry-run", is_flag=True, help="print the plan; make no mutating call"),
            option("--function-name", help="the deployed function to take the environment from"),
            option(
                "--aws",
                is_flag=True,
                help="against AWS with the standard credential chain (implied by --profile and "
                "--endpoint-url; without any of them: a throwaway in-process sandbox)",
            ),
        ],
    )
    _operator_commands(root)
    _adopt_command(root)
    from cli.redrive import register_cli

    register_cli(root)  # autopilot redrive (cli/redrive.py)
    command(
        root,
        "completion",
        cmd_completion,
        help="print the script that makes the shell complete autopilot's commands and options",
        example=[
            'eval "$(autopilot completion bash)"     # in ~/.bashrc',
            'eval "$(autopilot completion zsh)"      # in ~/.zshrc',
            "autopilot completion fish > ~/.config/fish/completions/autopilot.fish",
        ],
        params=[click.Argument(["shell"], type=click.Choice(parsing.SHELLS), help="the shell")],
    )
    return root


def _json(args: Args) -> bool:
    return getattr(args, "output", None) == "json"


#: commands that tell a story on the terminal as it happens: their stdout is not redirected
#: (unless the output is JSON, which they print at the end)
_STREAMING = frozenset({"demo", "up"})


def aws_environment(args: Args) -> dict[str, str]:
    """The environment the command's AWS clients read: ``--profile`` (which, as in the aws
    CLI, beats credentials in the environment) and the region from ``--region``, else
    ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, set under both names (botocore reads
    only ``AWS_DEFAULT_REGION``)."""
    env: dict[str, str] = {}
    if getattr(args, "profile", None):
        env["AWS_PROFILE"] = args.profile
    region = (
        getattr(args, "region", None)
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
    )
    if region:
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = region
    if getattr(args, "outputs_file", None):
        from cli.invoke import OUTPUTS_FILE_ENV

        env[OUTPUTS_FILE_ENV] = args.outputs_file
    return env


def parse(argv: list[str] | None) -> Args:
    """The command line as the ``cmd_*`` functions read it (``click.UsageError`` when it
    does not parse; ``click.exceptions.Exit`` after ``--help`` or ``--version``)."""
    parsed = build_cli().main(
        args=argv,
        prog_name=parsing.PROG,
        complete_var=parsing.COMPLETE_VAR,
        standalone_mode=False,
    )
    if isinstance(parsed, int):  # --help or --version: click's exit code
        raise click.exceptions.Exit(parsed)
    assert isinstance(parsed, Args)
    return parsed


def _run(argv: list[str] | None) -> int:
    from cli import output
    from sandbox.server import patched_environ

    try:
        try:
            args = parse(argv)
        except click.exceptions.Exit as exc:
            return int(exc.exit_code)
        except click.UsageError as exc:
            error_line(parsing.usage_error(exc))
            return EXIT_USAGE
        except click.ClickException as exc:
            error_line(" ".join(exc.format_message().split()))
            return int(exc.exit_code)
        except click.exceptions.Abort:
            return 130
        output.set_no_color(bool(args.no_color))
        env = aws_environment(args)
        saved = dict(os.environ)
        if args.profile:  # the profile's credentials, not the environment's
            for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
                os.environ.pop(key, None)
        streaming = getattr(args, "local_command", args.command) in _STREAMING and not _json(args)
        try:
            with (
                patched_environ(env),
                contextlib.nullcontext() if streaming else contextlib.redirect_stdout(sys.stderr),
            ):
                return int(args.func(args))
        finally:
            os.environ.clear()
            os.environ.update(saved)
    except (BrokenPipeError, parsing.ClosedPipe):
        raise
    except (UsageError, Failed, AwsAccessError, Exception) as exc:
        problem = str(exc) if isinstance(exc, AwsAccessError) else access_problem(exc)
        if problem:
            error_line(problem)
            return EXIT_AWS
        if isinstance(exc, UsageError):
            error_line(str(exc))
            return EXIT_USAGE
        if isinstance(exc, Failed):
            error_line(str(exc))
            return EXIT_FAILED
        error_line(f"{type(exc).__name__}: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    """The ``autopilot`` entry point. A closed stdout (``autopilot status | head -1``) ends
    the command quietly with exit 0."""
    from cli import output

    output.set_results(sys.stdout)
    try:
        try:
            code = _run(argv)
        except SystemExit as exc:  # a shell's completion request (click exits)
            code = exc.code if isinstance(exc.code, int) else EXIT_OK if exc.code is None else 2
        output.results().flush()
        return code
    except (BrokenPipeError, parsing.ClosedPipe):
        with contextlib.suppress(OSError, ValueError):  # a file-less stream (pytest's capsys)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    finally:
        output.set_results(None)


if __name__ == "__main__":
    raise SystemExit(main())
