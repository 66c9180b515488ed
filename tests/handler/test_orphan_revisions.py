"""No revision nothing finds: the intent recorded before RegisterTaskDefinition lets a later
deploy find what a killed invocation registered, and a RegisterTaskDefinition botocore
retried after a lost answer does not leave two revisions (``execute._deploy``)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from autopilot.execute import INTENT_TAG, REGISTERED_BY_TAG
from autopilot.handlers import image_events, reconciler

from tests.estate import ACCOUNT, REGION, Estate, LambdaContext

REPO = "demo/web"


class Killed(BaseException):
    """The invocation is gone: no ``except Exception`` and no ``finally`` reaches AWS."""


def _context(request_id: str) -> LambdaContext:
    context = LambdaContext()
    context.aws_request_id = request_id
    return context


def _ready(world: Estate, monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, Any], str]:
    world.push(REPO, "v1.2.0")
    svc = world.service("web", REPO, tag="v1.2.0", tags={"autopilot:scan": "off"})
    new = world.push(REPO, "v1.3.0")
    monkeypatch.setattr(image_events, "get_clients", lambda: world.clients)
    return svc, world.push_event(REPO, new, "v1.3.0"), new


def _status(world: Estate, family: str) -> dict[str, str]:
    """Every revision of ``family`` (ACTIVE or not) -> its status."""
    out: dict[str, str] = {}
    for revision in range(1, 20):
        try:
            td = world.ecs.describe_task_definition(taskDefinition=f"{family}:{revision}")
        except world.ecs.exceptions.ClientException:
            break
        out[td["taskDefinition"]["taskDefinitionArn"]] = td["taskDefinition"]["status"]
    return out


def _kill_after(world: Estate, operation: str) -> list[str]:
    """Once ``operation`` has returned (its change made), the invocation dies: every later
    call of any client raises ``Killed``."""
    dead: list[str] = []

    def after(**_: Any) -> None:
        if not dead:
            dead.append(operation)
            raise Killed(operation)

    def before(**_: Any) -> None:
        if dead:
            raise Killed("after " + dead[0])

    for client in (world.ecs, world.ecr, world.tagging, world.dynamodb, world.sns):
        client.meta.events.register("before-call", before, unique_id="killed-before")
    world.ecs.meta.events.register(f"after-call.ecs.{operation}", after, unique_id="killed-after")
    return dead


def _revive(world: Estate) -> None:
    for client in (world.ecs, world.ecr, world.tagging, world.dynamodb, world.sns):
        client.meta.events.unregister("before-call", unique_id="killed-before")
    world.ecs.meta.events.unregister(
        "after-call.ecs.RegisterTaskDefinition", unique_id="killed-after"
    )


def test_a_kill_after_the_registration_leaves_no_revision_nothing_finds(
    world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an invocation killed once RegisterTaskDefinition returned, before its record
    svc, event, new = _ready(world, monkeypatch)
    dead = _kill_after(world, "RegisterTaskDefinition")
    with pytest.raises(Killed):
        image_events.handler(dict(event), _context("request-a"))
    assert dead == ["RegisterTaskDefinition"]
    _revive(world)
    (orphan,) = [a for a in _status(world, "web") if not a.endswith(":1")]
    tags = world.ecs.describe_task_definition(taskDefinition=orphan, include=["TAGS"])["tags"]
    assert {"key": REGISTERED_BY_TAG, "value": "image-events"} in tags
    assert any(t["key"] == INTENT_TAG for t in tags)
    # When the event comes again in another invocation, once the dead one's lease is over
    real = time.time
    monkeypatch.setattr("autopilot.store.leases.time.time", lambda: real() + 61)
    result = image_events.handler(dict(event), _context("request-b"))
    # Then it deploys, and the revision the dead one registered is deregistered
    assert [d["outcome"] for d in result["decisions"]] == ["deployed"]
    assert world.running_image(svc).endswith(new)
    running = world.describe(svc)["taskDefinition"]
    status = _status(world, "web")
    assert status[orphan] == "INACTIVE"
    active = {arn for arn, s in status.items() if s == "ACTIVE"}
    replaced = orphan.rsplit(":", 1)[0] + ":1"
    assert active == {running, replaced}
    assert world.ledger.deploys.list_intents(svc) == []


def test_a_kill_before_the_registration_leaves_an_intent_the_next_deploy_forgets(
    world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an invocation killed after writing its intent, before registering
    svc, event, new = _ready(world, monkeypatch)
    dead: list[str] = []

    def before(**kw: Any) -> None:
        if dead or (kw.get("model") is not None and kw["model"].name == "RegisterTaskDefinition"):
            dead.append("x")
            raise Killed("before RegisterTaskDefinition")

    world.ecs.meta.events.register("before-call", before, unique_id="killed")
    world.dynamodb.meta.events.register("before-call", before, unique_id="killed-db")
    with pytest.raises(Killed):
        image_events.handler(dict(event), _context("request-a"))
    world.ecs.meta.events.unregister("before-call", unique_id="killed")
    world.dynamodb.meta.events.unregister("before-call", unique_id="killed-db")
    (intent,) = world.ledger.deploys.list_intents(svc)
    assert intent.family == "web"
    # When Lambda retries it (the same request id takes its lease back)
    result = image_events.handler(dict(event), _context("request-a"))
    # Then it deploys, one revision more, and the intent is gone
    assert [d["outcome"] for d in result["decisions"]] == ["deployed"]
    assert world.running_image(svc).endswith(new)
    assert len(world.revisions("web")) == 2
    assert world.ledger.deploys.list_intents(svc) == []


def test_a_registration_retried_after_a_lost_answer_leaves_one_revision(
    world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given RegisterTaskDefinition whose first answer is lost after ECS registered the
    # revision, so botocore sends it again (and ECS registers another)
    svc, event, new = _ready(world, monkeypatch)

    def lose_first_answer(attempts: int, **_: Any) -> float | None:
        return 0.0 if attempts == 1 else None  # retry now, as after a read timeout

    world.ecs.meta.events.register_first(
        "needs-retry.ecs.RegisterTaskDefinition", lose_first_answer
    )
    result = image_events.handler(dict(event), _context("request-a"))
    # Then the service runs the second, and the first is deregistered
    assert [d["outcome"] for d in result["decisions"]] == ["deployed"]
    assert world.running_image(svc).endswith(new)
    status = _status(world, "web")
    assert list(status.values()) == ["ACTIVE", "INACTIVE", "ACTIVE"]
    assert world.describe(svc)["taskDefinition"].endswith(":3")
    assert world.ledger.deploys.list_intents(svc) == []


def test_the_sweep_deregisters_what_a_killed_invocation_left_for_a_service_that_never_deploys(
    world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an invocation killed once RegisterTaskDefinition returned, and the image it
    # deployed then deleted from ECR: no later deploy of the service comes to reap it
    svc, event, new = _ready(world, monkeypatch)
    _kill_after(world, "RegisterTaskDefinition")
    with pytest.raises(Killed):
        image_events.handler(dict(event), _context("request-a"))
    _revive(world)
    (orphan,) = [a for a in _status(world, "web") if not a.endswith(":1")]
    world.ecr.batch_delete_image(repositoryName=REPO, imageIds=[{"imageDigest": new}])
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/autopilot-reconcile"
    tick = world.envelope("Scheduled Event", "aws.events", {}, resources=[rule])
    # When the reconciler sweeps at once, then once a lease has passed
    early = reconciler.run(dict(tick), aws=world.clients)
    real = time.time
    monkeypatch.setattr("autopilot.store.leases.time.time", lambda: real() + 91)
    monkeypatch.setattr("autopilot.store.table.CLOCK", lambda: real() + 91)
    late = reconciler.run({**tick, "id": "a-later-tick"}, aws=world.clients)
    # Then the first sweep keeps the intent (its invocation might still run), the second
    # deregisters the revision and forgets the intent, and the service is untouched
    assert not [a for a in early.actions if a.api == "ecs:DeregisterTaskDefinition"]
    dropped = [a.params["taskDefinition"] for a in late.actions if a.done]
    assert dropped == [orphan]
    assert _status(world, "web")[orphan] == "INACTIVE"
    assert world.ledger.deploys.list_intents(svc) == []
    assert world.describe(svc)["taskDefinition"].endswith(":1")
