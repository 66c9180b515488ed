"""reconciler against moto: a scheduled sweep deploys what the policy would deploy now, through
the image flow (its lease, ledger, scan gate read from ECR, notices, dry run), and never
older, never twice when it races the event path."""

from __future__ import annotations

from typing import Any

import pytest
from autopilot.errors import InvalidEvent, UnsupportedEvent
from autopilot.flows import reconcile
from autopilot.handlers import image_events, reconciler

from tests.estate import ACCOUNT, REGION, REGISTRY, Estate, LambdaContext

REPO = "demo/web"
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/autopilot-reconcile"


def tick(world: Estate, event_id: str | None = None) -> dict[str, Any]:
    """The schedule rule's ``Scheduled Event`` (the shape of ``events/scheduled-event-*``)."""
    return world.envelope(
        "Scheduled Event", "aws.events", {}, resources=[RULE_ARN], event_id=event_id
    )


def sweep(world: Estate, event: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    report = reconciler.run(event or tick(world), aws=world.clients, **kw)
    return report.to_json()


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {d["service"]: d["outcome"] for d in report["decisions"]}


def running_on(world: Estate, running: str = "v1.2.0", name: str = "web", repo: str = REPO) -> str:
    """A service on ``running`` of ``repo`` by digest, tracking it; its ARN."""
    digest = world.push(repo, running)
    world.hold_scan(repo, digest, {})
    return world.service(name, repo, digest=digest)


def lost_push(
    world: Estate, tag: str, repo: str = REPO, counts: dict[str, int] | None = None
) -> str:
    """A push to ECR whose event never arrives (ECR holds its scan); its digest."""
    digest = world.push(repo, tag)
    world.hold_scan(repo, digest, counts or {})
    return digest


def test_a_push_whose_event_was_lost_is_deployed_by_the_sweep(world: Estate) -> None:
    # Given a service on v1.2.0 and a push of v1.3.0 with no event
    svc = running_on(world)
    digest = lost_push(world, "v1.3.0")

    # When the schedule ticks
    event = tick(world)
    report = sweep(world, event)

    # Then the sweep deployed the pushed digest through the image flow, under its own id
    assert outcomes(report) == {svc: "deployed"}
    assert report["event_id"] == f"reconcile:{event['id']}"
    assert world.running_image(svc) == f"{REGISTRY}/{REPO}@{digest}"
    (notice,) = [n for n in world.notices() if n["attributes"]["outcome"] == "deployed"]
    assert notice["message"]["digest"] == digest


def test_nothing_to_do_changes_nothing_and_records_nothing(world: Estate) -> None:
    # Given a service running the newest image its policy takes
    running_on(world, "v1.3.0")
    world.push(REPO, "v1.2.9")  # pushed later, but an older version

    report = sweep(world)

    assert report["decisions"] == []
    assert world.mutations() == {}


def test_the_sweep_never_deploys_an_older_image(world: Estate) -> None:
    # Given a service on v2.0.0, an image ECR no longer holds, and v1.5.0 in ECR
    world.repo(REPO)
    svc = world.service("web", REPO, tag="v2.0.0")
    lost_push(world, "v1.5.0")

    report = sweep(world)

    # Then the image flow refuses it: older than what runs
    assert outcomes(report) == {svc: "older"}
    assert world.mutations() == {}
    assert world.running_image(svc) == f"{REGISTRY}/{REPO}:v2.0.0"


def test_the_scan_gate_read_from_ecr_holds_the_sweep_and_says_nothing(world: Estate) -> None:
    # Given a lost push whose scan ECR says is CRITICAL
    svc = running_on(world)
    lost_push(world, "v1.3.0", counts={"CRITICAL": 1})

    report = sweep(world)

    assert outcomes(report) == {svc: "blocked"}
    assert world.mutations() == {}  # no notice either: a block is announced by its scan
    assert world.notices() == []


def test_event_first_then_sweep_finds_it_running(world: Estate) -> None:
    # Given a push deployed by its event
    svc = running_on(world)
    digest = lost_push(world, "v1.3.0")
    pushed = image_events.run(world.push_event(REPO, digest, "v1.3.0"), aws=world.clients)
    assert pushed.outcomes() == {svc: "deployed"}
    world.calls.clear()

    # When the sweep comes after it
    report = sweep(world)

    # Then it does nothing
    assert report["decisions"] == []
    assert world.mutations() == {}


def test_sweep_first_then_event_finds_it_running(world: Estate) -> None:
    # Given a push the sweep deployed before its (late) event arrived
    svc = running_on(world)
    digest = lost_push(world, "v1.3.0")
    assert outcomes(sweep(world)) == {svc: "deployed"}
    world.calls.clear()

    # When the event arrives
    late = image_events.run(world.push_event(REPO, digest, "v1.3.0"), aws=world.clients)

    # Then the image flow finds it running: one deploy in all
    assert late.outcomes() == {svc: "already-running"}
    assert world.mutations() == {}


def test_a_push_held_by_a_pause_is_deployed_once_the_pause_ends(world: Estate) -> None:
    # Given a paused service and a push its event found paused
    svc = running_on(world)
    world.ledger.pauses.set(svc, True, by="ops", reason="freeze")
    digest = lost_push(world, "v1.3.0")
    held = image_events.run(world.push_event(REPO, digest, "v1.3.0"), aws=world.clients)
    assert held.outcomes() == {svc: "paused"}
    # and the sweep while paused does not deploy either
    assert outcomes(sweep(world)) == {svc: "paused"}

    # When the pause ends and the schedule ticks
    world.ledger.pauses.set(svc, False)
    report = sweep(world)

    # Then the held push is deployed
    assert outcomes(report) == {svc: "deployed"}
    assert world.running_image(svc) == f"{REGISTRY}/{REPO}@{digest}"


def test_a_sweep_short_of_time_defers_the_rest_and_the_next_starts_there(world: Estate) -> None:
    # Given two repositories, each with a lost push
    web = running_on(world, name="web", repo="demo/web")
    api = running_on(world, name="api", repo="demo/api")
    lost_push(world, "v1.3.0", repo="demo/web")
    lost_push(world, "v1.3.0", repo="demo/api")
    left = [60_000]

    def time_spent(**_: Any) -> None:
        left[0] = 1_000

    # When the first sweep runs short of time after its first repository's deploy (demo/api)
    world.ecs.meta.events.register("after-call.ecs.UpdateService", time_spent)
    first = sweep(world, remaining_ms=lambda: left[0])
    world.ecs.meta.events.unregister("after-call.ecs.UpdateService", time_spent)

    # Then it deployed that one and deferred the other, and the next sweep starts there
    assert outcomes(first) == {api: "deployed", "repository/demo/web": "deferred"}
    second = sweep(world, remaining_ms=lambda: 60_000)
    assert outcomes(second) == {web: "deployed"}


def test_a_repeated_tick_is_a_duplicate(world: Estate) -> None:
    svc = running_on(world)
    lost_push(world, "v1.3.0")
    event = tick(world)
    assert outcomes(sweep(world, event)) == {svc: "deployed"}
    world.calls.clear()

    again = sweep(world, event)

    assert again["duplicate"] is True
    assert world.mutations() == {}


def test_dry_run_plans_the_deploy_and_changes_nothing(world: Estate) -> None:
    svc = running_on(world)
    lost_push(world, "v1.3.0")

    report = sweep(world, dry_run=True)

    assert outcomes(report) == {svc: "deployed"}
    assert {a["api"] for a in report["actions"]} >= {"ecs:RegisterTaskDefinition"}
    assert world.mutations() == {}


def test_a_malformed_tag_is_skipped_by_the_sweep(world: Estate) -> None:
    digest = world.push(REPO, "v1.2.0")
    world.service("web", REPO, digest=digest, tags={"autopilot:policy": "nonsense"})
    lost_push(world, "v1.3.0")

    assert sweep(world)["decisions"] == []
    assert world.mutations() == {}


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"detail-type": "Scheduled Event", "source": "aws.events"}, InvalidEvent),
        ({"detail-type": "ECR Image Action", "source": "aws.ecr"}, UnsupportedEvent),
        ("not an event", InvalidEvent),
    ],
)
def test_junk_is_a_typed_error(world: Estate, event: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        reconciler.run(event, aws=world.clients)
    assert world.mutations() == {}


def test_the_lambda_entry_sweeps(world: Estate, context: LambdaContext) -> None:
    svc = running_on(world)
    lost_push(world, "v1.3.0")

    result = reconciler.handler(tick(world), context)

    assert {d["service"]: d["outcome"] for d in result["decisions"]} == {svc: "deployed"}


def test_a_tick_of_another_account_is_recorded_and_never_acted_on(world: Estate) -> None:
    running_on(world)
    lost_push(world, "v1.3.0")
    event = tick(world)
    event["account"] = "210987654321"

    report = sweep(world, event)

    assert outcomes(report) == {"sweep": "ignored"}
    assert world.aws_calls() == {}


def test_a_sweep_short_of_time_between_deploys_defers_the_rest_of_the_repository(
    world: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given three services of one repository and a lost push, deployed one at a time
    monkeypatch.setattr(reconcile, "DEPLOY_CHUNK", 1)
    digest = world.push(REPO, "v1.2.0")
    world.hold_scan(REPO, digest, {})
    arns = [world.service(f"web-{i}", REPO, digest=digest) for i in range(3)]
    lost_push(world, "v1.3.0")
    left = [60_000]

    def time_spent(**_: Any) -> None:
        left[0] = 1_000

    # When time runs short after the first deploy
    world.ecs.meta.events.register("after-call.ecs.UpdateService", time_spent)
    first = sweep(world, remaining_ms=lambda: left[0])
    world.ecs.meta.events.unregister("after-call.ecs.UpdateService", time_spent)

    # Then the others are deferred, and the next sweep deploys them (the first: a no-op)
    assert outcomes(first) == {
        arns[0]: "deployed",
        arns[1]: "deferred",
        arns[2]: "deferred",
        f"repository/{REPO}": "deferred",
    }
    second = sweep(world, remaining_ms=lambda: 60_000)
    assert outcomes(second) == {arns[1]: "deployed", arns[2]: "deployed"}
