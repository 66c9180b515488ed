"""The service lease (``store.leases``) with the holders runs take (``record.Run.holder``):
one mutating action per service at a time, even between two deliveries of one event."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from autopilot.errors import LeaseBusy
from autopilot.record import open_run
from autopilot.settings import ImageEventsSettings, get_settings

from tests.estate import Estate

SERVICE = "arn:aws:ecs:us-east-1:123456789012:service/demo/web"


def _holder(world: Estate, event_id: str, invocation: str | None) -> str:
    """The holder of a run of image-events for ``event_id`` in invocation ``invocation``."""
    settings = get_settings(ImageEventsSettings)
    event = SimpleNamespace(id=event_id, detail_type="ECR Image Action", account=settings.account)
    run = open_run(
        "image-events", event, settings, world.clients, dry_run=False, invocation=invocation
    )  # type: ignore[arg-type]
    return run.holder


def test_two_invocations_of_one_event_exclude_each_other(world: Estate) -> None:
    a, b = _holder(world, "push-1", "request-a"), _holder(world, "push-1", "request-b")
    world.ledger.leases.acquire(SERVICE, a, 300)
    with pytest.raises(LeaseBusy) as refused:
        world.ledger.leases.acquire(SERVICE, b, 300)
    assert refused.value.holder == a
    # the refused one cannot give back a lease it does not hold
    world.ledger.leases.release(SERVICE, b)
    with pytest.raises(LeaseBusy):
        world.ledger.leases.acquire(SERVICE, b, 300)
    # once A gives it back, B takes it
    world.ledger.leases.release(SERVICE, a)
    world.ledger.leases.acquire(SERVICE, b, 300)


def test_the_same_invocation_takes_its_own_lease_again(world: Estate) -> None:
    # Lambda's retry of an asynchronous invocation keeps its request id
    world.ledger.leases.acquire(SERVICE, _holder(world, "push-1", "request-a"), 300)
    world.ledger.leases.acquire(SERVICE, _holder(world, "push-1", "request-a"), 300)


def test_runs_without_a_request_id_exclude_each_other(world: Estate) -> None:
    # the CLI's invoke, a direct run: each run is an invocation of its own
    a, b = _holder(world, "push-1", None), _holder(world, "push-1", None)
    assert a != b
    world.ledger.leases.acquire(SERVICE, a, 300)
    with pytest.raises(LeaseBusy):
        world.ledger.leases.acquire(SERVICE, b, 300)


@pytest.mark.parametrize(
    ("read_at", "changed_at", "taken"),
    [
        (1_000.0004, 1_000.0008, False),  # changed in the read's millisecond, after it
        (1_000.0006, 1_000.0009, False),  # the same, where rounding to nearest gave 1000.001
        (1_000.0009, 1_000.0004, False),  # changed in the read's millisecond: not provably before
        (1_000.0031, 1_000.0004, True),  # changed milliseconds before the read
    ],
)
def test_a_change_after_the_read_refuses_the_lease_within_one_millisecond(
    world: Estate, monkeypatch: pytest.MonkeyPatch, read_at: float, changed_at: float, taken: bool
) -> None:
    # Given A changed the service under its lease at changed_at, and B read it at read_at
    leases = world.ledger.leases
    monkeypatch.setattr("autopilot.store.leases.time.time", lambda: changed_at)
    leases.acquire(SERVICE, "image-events:a:request-a", 300)
    leases.release(SERVICE, "image-events:a:request-a", changed=True)
    # When B asks for the lease, unchanged since its read
    monkeypatch.setattr("autopilot.store.leases.time.time", lambda: changed_at + 0.01)
    if taken:
        leases.acquire(SERVICE, "image-events:b:request-b", 300, unchanged_since=read_at)
    else:
        # Then a change not provably before the read refuses it: B decides again
        with pytest.raises(LeaseBusy):
            leases.acquire(SERVICE, "image-events:b:request-b", 300, unchanged_since=read_at)
