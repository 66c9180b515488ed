"""Every AWS call fits in the invocation's time budget (``aws.clients.time_budget``, the
actor's check in ``execute``), and a call that gets no answer (botocore's
``BotoCoreError``) fails like any other, through the actor's clean-up."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from autopilot.aws import clients, ecs
from autopilot.aws.clients import AwsClients
from autopilot.errors import AwsCallFailed, Incomplete, OutOfTime
from autopilot.handlers import image_events
from botocore.config import Config
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from tests.estate import REGION, Estate, LambdaContext

REPO = "demo/web"


class Clock:
    """``time.monotonic`` moved forward by ``skip`` seconds (the budget's clock)."""

    def __init__(self) -> None:
        self.skip = 0.0
        self._real = time.monotonic

    def __call__(self) -> float:
        return self._real() + self.skip


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock)
    return clock


def _context(remaining_ms: int) -> LambdaContext:
    context = LambdaContext()
    context.get_remaining_time_in_millis = lambda: remaining_ms  # type: ignore[method-assign]
    return context


def _ready(world: Estate, monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, Any], str]:
    digest = world.push(REPO, "v1.2.0")
    svc = world.service("web", REPO, tag="v1.2.0", tags={"autopilot:scan": "off"})
    new = world.push(REPO, "v1.3.0")
    monkeypatch.setattr(image_events, "get_clients", lambda: world.clients)
    _ = digest
    return svc, world.push_event(REPO, new, "v1.3.0"), new


def _lease_holder(world: Estate, svc: str) -> str | None:
    item = world.ledger.table.get(f"SVC#{svc}", "LEASE") or {}
    holder = item.get("holder")
    return str(holder) if holder else None


def test_too_little_time_left_changes_nothing_and_the_event_is_retried(
    world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a push that would deploy, handled with 12 s left: enough for reads (one call
    # attempt takes at most 10 s), not for a change and its wrap-up (15 s)
    svc, event, new = _ready(world, monkeypatch)
    world.reset_counts()
    with pytest.raises(Incomplete) as raised:
        image_events.handler(event, _context(12_000))
    # Then nothing is changed, no lease is held, and the outcome is recorded as retried
    assert raised.value.services == [svc]
    assert world.mutations() == {}
    assert _lease_holder(world, svc) is None
    (decision,) = world.ledger.decisions.list(svc)
    assert decision["outcome"] == "failed"
    assert decision["reason"].startswith("out of time before ecs:RegisterTaskDefinition")
    assert decision["reason"].endswith("; retried")
    assert world.notices() == []  # not announced
    # When Lambda retries with a whole budget, it deploys
    result = image_events.handler(event, _context(60_000))
    assert [d["outcome"] for d in result["decisions"]] == ["deployed"]
    assert world.running_image(svc).endswith(new)


def test_time_running_out_between_two_calls_keeps_the_revision_for_the_retry(
    world: Estate, monkeypatch: pytest.MonkeyPatch, monotonic: Clock
) -> None:
    # Given 20 s left, of which RegisterTaskDefinition takes 7 s
    svc, event, new = _ready(world, monkeypatch)

    def slow(**_: Any) -> None:
        monotonic.skip += 7

    world.ecs.meta.events.register("after-call.ecs.RegisterTaskDefinition", slow)
    with pytest.raises(Incomplete):
        image_events.handler(event, _context(20_000))
    # Then UpdateService was not called (13 s left < 15 s), the revision is recorded for
    # the retry, the lease is given back, and the outcome says why
    assert world.calls["ecs:UpdateService"] == 0
    assert len(world.revisions("web")) == 2
    assert _lease_holder(world, svc) is None
    (decision,) = world.ledger.decisions.list(svc)
    assert decision["reason"].startswith("out of time before ecs:UpdateService")
    world.ecs.meta.events.unregister("after-call.ecs.RegisterTaskDefinition", slow)
    world.reset_counts()
    result = image_events.handler(event, _context(60_000))
    assert [d["outcome"] for d in result["decisions"]] == ["deployed"]
    assert world.calls["ecs:RegisterTaskDefinition"] == 0  # reused
    assert world.running_image(svc).endswith(new)


def test_the_clients_refuse_an_attempt_that_could_outlive_the_budget(world: Estate) -> None:
    aws = world.clients  # every client it holds is budgeted
    with clients.time_budget(9_000), pytest.raises(OutOfTime) as raised:
        aws.ecs.list_clusters()
    assert raised.value.api == "ecs:ListClusters"
    assert raised.value.transient
    assert raised.value.margin_ms == clients.ATTEMPT_SECONDS * 1000
    with clients.time_budget(11_000):
        aws.ecs.list_clusters()
    aws.ecs.list_clusters()  # outside a budget: nothing is checked


@pytest.mark.usefixtures("aws_env")
def test_a_call_with_its_retries_fits_in_the_function_timeout() -> None:
    # standard mode's backoff before retry n is at most 2 ** (n - 1) s (throttled)
    backoff = sum(2 ** (n - 1) for n in range(1, clients.MAX_ATTEMPTS))
    worst = clients.MAX_ATTEMPTS * clients.ATTEMPT_SECONDS + backoff
    assert worst <= 47  # of a 60 s timeout by default
    client = clients._make(clients._session(), "ecs")
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (2, 8)
    assert config.retries == {"mode": "standard", "total_max_attempts": clients.MAX_ATTEMPTS}


# -- no answer: BotoCoreError --------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "code"),
    [
        (EndpointConnectionError(endpoint_url="https://ecs"), "EndpointConnectionError"),
        (ReadTimeoutError(endpoint_url="https://ecs"), "ReadTimeoutError"),
        (ConnectTimeoutError(endpoint_url="https://ecs"), "ConnectTimeoutError"),
    ],
)
def test_a_call_with_no_answer_fails_transiently_and_the_actor_cleans_up(
    world: Estate, monkeypatch: pytest.MonkeyPatch, error: Exception, code: str
) -> None:
    # Given an ECS client whose UpdateService never gets an answer (botocore raises its own
    # error from the send; one attempt, so the test does not wait for backoffs)
    svc, event, new = _ready(world, monkeypatch)
    client = boto3.client(
        "ecs", region_name=REGION, config=Config(retries={"total_max_attempts": 1})
    )

    def no_answer(**_: Any) -> None:
        raise error

    client.meta.events.register("before-send.ecs.UpdateService", no_answer)
    aws = AwsClients(
        ecs=client,
        ecr=world.ecr,
        tagging=world.tagging,
        dynamodb=world.dynamodb,
        sns=world.sns,
    )
    monkeypatch.setattr(image_events, "get_clients", lambda: aws)
    # When the push is handled
    with pytest.raises(Incomplete):
        image_events.handler(event, _context(60_000))
    # Then it is a transient failure, recorded and retried: the lease is given back and the
    # revision kept for the retry
    (decision,) = world.ledger.decisions.list(svc)
    assert decision["outcome"] == "failed"
    assert decision["reason"].startswith(f"ecs:UpdateService failed: {code};")
    assert "(transient); retried" in decision["reason"]
    assert _lease_holder(world, svc) is None
    assert len(world.revisions("web")) == 2
    # and the retry, answered, reuses it
    client.meta.events.unregister("before-send.ecs.UpdateService", no_answer)
    result = image_events.handler(event, _context(60_000))
    assert [d["outcome"] for d in result["decisions"]] == ["deployed"]
    assert world.running_image(svc).endswith(new)
    assert len(world.revisions("web")) == 2


def test_a_request_botocore_refuses_to_send_fails_and_is_not_retried(world: Estate) -> None:
    with pytest.raises(AwsCallFailed) as raised:
        ecs.describe_task_definition(world.ecs, 42)  # type: ignore[arg-type]
    assert raised.value.code == "ParamValidationError"
    assert not raised.value.transient
