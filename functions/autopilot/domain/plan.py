"""The plan a flow hands the actor (``autopilot.execute``): the decision it makes, final, and
every mutating step that carries it out, planned before anything is done.

A ``Step`` is one AWS call (an ``Action``: api and params) with the ledger writes that go
with it: a ``guard`` that must hold first (a cooldown claim), and what the ledger
remembers once the call succeeded (``then``); its ``fallback`` is the step made instead
when AWS refuses the call (e.g. UpdateService when ECS will not roll a deployment back).
A ``PinnedDeploy`` is the image flow's pair of calls: register a revision pinned to a
digest, then move the service onto it. ``writes`` are bookkeeping made whether or not
the steps run (quarantine, last known good, a pending approval, a re-check mark); a
paused service keeps them and loses its steps (``logic.pause``). Ledger writes are bound
by the flow that plans them, so a dry run can list them (``Write.what``) without making
them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from autopilot.domain.records import DeployRecord
from autopilot.domain.report import Action, Decision


class Write(NamedTuple):
    """One ledger write. ``apply`` returns False when a conditional write did not hold."""

    what: str
    apply: Callable[[], object]


class Step(NamedTuple):
    """One mutating AWS call and the ledger writes that go with it."""

    action: Action
    #: must hold before the call (e.g. a cooldown claim); if it does not, nothing more is
    #: done and the decision is recorded as deferred with ``guard_lost``
    guard: Write | None = None
    guard_lost: str = ""
    #: written before the call, once the guard holds (e.g. an original value to restore)
    before: tuple[Write, ...] = ()
    #: what the ledger remembers once the call succeeded
    then: tuple[Write, ...] = ()
    #: written when the call failed (e.g. the guard given back: nothing was changed)
    undo: tuple[Write, ...] = ()
    #: made instead when AWS refuses the call with one of its codes (after ``undo``)
    fallback: Fallback | None = None


class Fallback(NamedTuple):
    """The step the actor makes instead when AWS answers a step's call with one of
    ``codes``: a refusal, so nothing was changed (never for a transient failure, which is
    retried as it is). The decision then says ``reason``, followed by the refusal."""

    codes: frozenset[str]
    step: Step
    reason: str


class PinnedDeploy(NamedTuple):
    """Register ``register`` (a revision pinned to a digest) and move the service onto it
    with ``update``, whose ``taskDefinition`` the registration fills in; ``record`` is the
    deploy record kept (its ``task_definition`` the new revision's).

    ``reuse``: a revision an earlier attempt registered for this digest on this base and
    never used: the service moves onto it and nothing is registered. ``drop``: deregisters
    the new revision if the deploy fails and no retry would use it (its ``taskDefinition``
    filled in then). ``stale``: deregisters the revisions earlier attempts registered and
    never used, once the service is moved (best effort: a record is forgotten only once its
    revision is gone); never one a service runs, deploys or has as last known good.
    """

    register: Action
    update: Action
    record: DeployRecord
    drop: Action
    reuse: str | None = None
    stale: tuple[Action, ...] = ()


class Retry(NamedTuple):
    """What a plan that must be tried again leaves behind: refused by the service's lease
    (busy), or a call failed transiently."""

    #: Lambda retries the event (the handler raises ``Incomplete``)
    lambda_retry: bool = True
    #: written instead, or as well (a re-check mark, a reopened window, a released claim)
    writes: tuple[Write, ...] = ()
    #: what the recorded reason says comes next
    then: str = "retried"


class Plan(NamedTuple):
    """A decision and how it is carried out."""

    decision: Decision
    steps: tuple[Step | PinnedDeploy, ...] = ()
    writes: tuple[Write, ...] = ()
    #: the service whose lease the steps take (None: no lease, e.g. an ASG-wide change)
    lease: str | None = None
    #: when the service was read (epoch seconds): the lease refuses a change made since
    observed_at: float | None = None
    on_retry: Retry = Retry()

    @property
    def actions(self) -> list[Action]:
        """Every AWS call the plan makes, in order (a fallback only if its step is
        refused: not listed)."""
        out: list[Action] = []
        for step in self.steps:
            if isinstance(step, PinnedDeploy):
                out += [step.register, step.update, *step.stale]
            else:
                out.append(step.action)
        return out
