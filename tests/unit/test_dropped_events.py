"""The simulator's lost events (``sandbox/simulator/bus.py``): a seeded share of the ECR
push and scan events never reaches the rules, ``drop`` loses one for sure, other events are
never lost; and the command line refuses a drop rate outside 0..1 (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from sandbox.simulator.bus import DROPPED, EventQueue, make_event
from sandbox.timeline import Timeline


def _push(n: int) -> dict[str, object]:
    return make_event(
        "aws.ecr",
        "ECR Image Action",
        {"action-type": "PUSH", "result": "SUCCESS", "repository-name": "r", "image-tag": f"{n}"},
    )


def _lost(rate: float, seed: int, n: int = 200) -> list[int]:
    q = EventQueue(Timeline())
    q.set_drop_rate(rate, seed=seed)
    return [i for i in range(n) if not q.put(_push(i), droppable=True)]


def test_a_seeded_drop_rate_loses_about_that_share_the_same_way_each_time() -> None:
    lost = _lost(0.2, seed=7)
    assert lost == _lost(0.2, seed=7)
    assert lost != _lost(0.2, seed=8)
    assert 20 <= len(lost) <= 60  # 200 events at 20 %: 40 expected
    assert _lost(0.0, seed=7) == []
    assert _lost(1.0, seed=7) == list(range(200))


def test_a_lost_event_is_told_and_kept_apart_and_never_routed() -> None:
    timeline = Timeline()
    q = EventQueue(timeline)
    event = _push(1)
    assert q.put(event, label="push r:1", drop=True) is False
    assert q.dropped == [event]
    assert q.emitted == []
    assert q.next() is None
    assert timeline.entries[-1].text == "push r:1" + DROPPED
    assert timeline.entries[-1].data["dropped"] is True


def test_only_droppable_events_are_lost_at_the_rate() -> None:
    q = EventQueue(Timeline())
    q.set_drop_rate(1.0, seed=1)
    assert q.put(_push(1)) is True  # e.g. an event given to Simulator.emit
    assert q.put(_push(2), droppable=True) is False
    assert len(q.emitted) == 1


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_a_drop_rate_outside_0_to_1_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        EventQueue(Timeline()).set_drop_rate(rate)


def test_local_up_with_a_bad_drop_rate_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "up", "--drop-rate", "1.5"]) == 2
    err = capsys.readouterr().err
    assert "--drop-rate 1.5" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [["local", "push", "demo/web:9.0.0", "--drop-event"], ["local", "tick", "reconcile"]],
)
def test_drop_event_and_tick_without_a_sandbox_say_so(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("AUTOPILOT_SANDBOX_STATE", str(tmp_path / "none.json"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "autopilot local up" in err
    assert "Traceback" not in err
