"""Deployments: a new task definition on a service, carried through as ECS does.

moto's ``UpdateService`` opens the deployment (the backend patch
``ecs-update-service-deployment`` in sandbox/moto_adjustments.py); here it is told step by
step. Each step changes the service's state first (moto's ``deployments`` included) and
then queues the ``ECS Deployment State Change`` of that moment, so a handler sees the
state of its own moment:

* ``SERVICE_DEPLOYMENT_IN_PROGRESS``, then the tasks are replaced and ``COMPLETED``;
* if the new image's digest was pushed as crashing: its tasks exit with code 1, the
  circuit breaker trips, ``FAILED``; with rollback on, the service is already back on its
  previous task definition when ``FAILED`` is delivered, followed by the ``IN_PROGRESS``
  "rolling back to deploymentId ..." event and the rollback's ``COMPLETED``;
* if it was pushed as stalling: nothing more happens by itself, the deployment stays
  ``IN_PROGRESS`` (its tasks never turn healthy, nothing trips yet);
* a ``StopServiceDeployment`` ROLLBACK of it (moto's answer, the backend patch
  ``ecs-service-deployments``, has put the service back on the previous revision): the
  ``IN_PROGRESS`` "... rolling back to deploymentId ..." event, the previous revision's
  tasks, and the rollback's ``COMPLETED`` (no ``FAILED``: the deployment was stopped, not
  failed; the docs do not say which events a manual rollback sends beyond these two).

Deployments start and stop tasks through :mod:`sandbox.simulator.tasks`; tasks know
nothing of deployments beyond the id they were started by.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from sandbox import moto_adjustments as adj
from sandbox.server import Clients
from sandbox.simulator.bus import Event, EventQueue, iso, make_event, now
from sandbox.simulator.presentation import td_label
from sandbox.simulator.state import (
    SimService,
    SimState,
    image_digest,
    moto_service,
    primary_deployment,
)
from sandbox.simulator.tasks import Tasks
from sandbox.timeline import Timeline

if TYPE_CHECKING:
    from moto.ecs.models import Service

#: hands a deployment to ECS's delivery machinery (``Delivery.take`` of
#: sandbox.simulator.delivery, set by the simulator): (service, deployment id, new task
#: definition, old deployment id, old task definition, stalling, the alarm its image sets)
#: -> True if the machinery carries it
Handover = Callable[[SimService, str, str, str, str, bool, "str | None"], bool]


class Deployments:
    def __init__(
        self,
        clients: Clients,
        state: SimState,
        queue: EventQueue,
        tasks: Tasks,
        timeline: Timeline,
    ) -> None:
        self.clients = clients
        self.state = state
        self.queue = queue
        self.tasks = tasks
        self.timeline = timeline
        #: ECS's delivery machinery (strategy stages, alarms, hooks): set by the simulator
        self.hand_over: Handover | None = None

    def record_current(self, svc: SimService) -> None:
        """moto's deployments of a service the simulator found running: its current one,
        COMPLETED."""
        self._write(
            svc,
            [
                self._deployment(
                    svc,
                    svc.deployment_id,
                    svc.task_definition,
                    "PRIMARY",
                    "COMPLETED",
                    f"ECS deployment {svc.deployment_id} completed.",
                )
            ],
        )

    def opened(self, svc: SimService, ms: Service) -> bool:
        """moto's service has a deployment the simulator has not carried yet: a new task
        definition, or a new PRIMARY deployment IN_PROGRESS."""
        primary = primary_deployment(ms)
        forced = primary.get("rolloutState") == "IN_PROGRESS" and primary.get("id") not in (
            svc.deployment_id,
            None,
        )
        return ms.task_definition != svc.task_definition or forced

    def deploy(self, svc: SimService, new_td: str) -> None:
        """A new task definition on a service: one deployment, told step by step."""
        old_td, old_dep = svc.task_definition, svc.deployment_id
        primary = primary_deployment(moto_service(svc))
        # moto's UpdateService has already opened the deployment
        dep = (
            primary.get("id")
            if primary.get("taskDefinition") == new_td and primary.get("id") != old_dep
            else None
        )
        dep = dep or f"ecs-svc/{secrets.randbelow(10**18)}"
        svc.task_definition, svc.deployment_id = new_td, dep
        self.timeline.add("state", f"{svc.name}: deployment {dep} to {td_label(new_td)} started")
        self._write(
            svc,
            [
                self._deployment(
                    svc,
                    dep,
                    new_td,
                    "PRIMARY",
                    "IN_PROGRESS",
                    f"ECS deployment {dep} in progress.",
                    running=0,
                ),
                self._deployment(
                    svc,
                    old_dep,
                    old_td,
                    "ACTIVE",
                    "COMPLETED",
                    f"ECS deployment {old_dep} completed.",
                ),
            ],
        )
        self.queue.put(
            self._event(
                svc, "SERVICE_DEPLOYMENT_IN_PROGRESS", dep, f"ECS deployment {dep} in progress."
            )
        )
        digests = self._digests(new_td)
        crashing = sorted(d for d in digests if d in self.state.crashing)
        stalling = any(d in self.state.stalling for d in digests)
        if crashing:
            self.queue.later(lambda: self._fail(svc, dep, new_td, old_dep, old_td, crashing[0]))
        elif self.hand_over is not None and self.hand_over(
            svc,
            dep,
            new_td,
            old_dep,
            old_td,
            stalling,
            next((self.state.alarming[d] for d in digests if d in self.state.alarming), None),
        ):
            pass  # carried by ECS's delivery machinery
        elif stalling:
            self.timeline.add("state", f"{svc.name}: {dep} stalls IN_PROGRESS (tasks unhealthy)")
        else:
            self.queue.later(lambda: self._complete(svc, dep, new_td))

    def roll_back_stopped(self, svc: SimService, ms: Service) -> bool:
        """A StopServiceDeployment ROLLBACK of the service's deployment that the simulator
        has not carried yet: carried (the rollback's IN_PROGRESS now, its COMPLETED once the
        previous revision's tasks run). False if there is none."""
        for dep, stop in adj.stopped_deployments(ms).items():
            if stop["carried"]:
                continue
            stop["carried"] = True
            back, old_td = str(stop["rollback"]), str(stop["source_td"])
            svc.task_definition, svc.deployment_id = old_td, back
            self.timeline.add(
                "state",
                f"{svc.name}: {dep} stopped (StopServiceDeployment ROLLBACK), "
                f"rolling back to {td_label(old_td)}",
            )
            self.queue.put(
                self._event(svc, "SERVICE_DEPLOYMENT_IN_PROGRESS", back, str(stop["reason"]))
            )
            self.queue.later(partial(self._complete, svc, back, old_td))
            return True
        return False

    def _complete(self, svc: SimService, dep: str, new_td: str) -> None:
        if svc.deployment_id != dep:
            return  # superseded by a newer deployment
        old_tasks = [t for t in svc.running() if t.deployment_id != dep]
        for _ in old_tasks:
            self.tasks.start(svc, deployment_id=dep, task_definition=new_td)
        for t in old_tasks:
            self.tasks.stop(
                svc,
                t,
                stop_code="ServiceSchedulerInitiated",
                reason=f"Task stopped by ECS deployment {dep}",
            )
        self.completed(svc, dep, new_td)

    def completed(self, svc: SimService, dep: str, new_td: str) -> None:
        """A deployment whose tasks were replaced (a rolling one's just above, a staged one's
        by its walk, sandbox.simulator.delivery): COMPLETED."""
        self._write(
            svc,
            [
                self._deployment(
                    svc, dep, new_td, "PRIMARY", "COMPLETED", f"ECS deployment {dep} completed."
                )
            ],
        )
        self.timeline.add(
            "state",
            f"{svc.name}: deployment {dep} COMPLETED, "
            f"{len(svc.running())} tasks on {td_label(new_td)}",
        )
        self.queue.put(
            self._event(
                svc, "SERVICE_DEPLOYMENT_COMPLETED", dep, f"ECS deployment {dep} completed."
            )
        )

    def failed_without_rollback(self, svc: SimService, dep: str, new_td: str, reason: str) -> None:
        """A walk's deployment failed, with no rollback: FAILED, the tasks left as they are."""
        self._write(
            svc, [self._deployment(svc, dep, new_td, "PRIMARY", "FAILED", reason, running=0)]
        )
        self.queue.put(self._event(svc, "SERVICE_DEPLOYMENT_FAILED", dep, reason))

    def rolled_back(
        self,
        svc: SimService,
        dep: str,
        new_td: str,
        back: str,
        old_td: str,
        *,
        failed_reason: str,
        rolling: str,
    ) -> None:
        """A walk's deployment failed and ECS rolls back to the source revision (whose tasks
        still run): FAILED, the rollback's IN_PROGRESS, then, once the new revision's tasks
        stopped, its COMPLETED."""
        moto_service(svc).task_definition = old_td
        svc.task_definition, svc.deployment_id = old_td, back
        self._write(
            svc,
            [
                self._deployment(svc, back, old_td, "PRIMARY", "IN_PROGRESS", rolling),
                self._deployment(svc, dep, new_td, "ACTIVE", "FAILED", failed_reason, running=0),
            ],
        )
        self.queue.put(self._event(svc, "SERVICE_DEPLOYMENT_FAILED", dep, failed_reason))
        self.queue.put(self._event(svc, "SERVICE_DEPLOYMENT_IN_PROGRESS", back, rolling))

        def finish() -> None:
            if svc.deployment_id != back:
                return
            for t in [t for t in svc.running() if t.deployment_id == dep]:
                self.tasks.stop(
                    svc,
                    t,
                    stop_code="ServiceSchedulerInitiated",
                    reason=f"Task stopped by ECS deployment {back} (rollback)",
                )
            self.completed(svc, back, old_td)

        self.queue.later(finish)

    def _fail(  # noqa: PLR0917 - internal step
        self, svc: SimService, dep: str, new_td: str, old_dep: str, old_td: str, digest: str
    ) -> None:
        if svc.deployment_id != dep:
            return
        # the new tasks start and exit: the circuit breaker counts them and trips
        for _ in range(min(3, max(1, int(moto_service(svc).desired_count or 1)))):
            t = self.tasks.start(svc, quiet=True, deployment_id=dep, task_definition=new_td)
            if t is None:
                break
            self.tasks.stop(
                svc,
                t,
                stop_code="EssentialContainerExited",
                reason="Essential container in task exited",
                exit_code=1,
            )
        failed_reason = "ECS deployment circuit breaker: tasks failed to start."
        if not svc.rollback:
            self._write(
                svc,
                [
                    self._deployment(
                        svc, dep, new_td, "PRIMARY", "FAILED", failed_reason, running=0
                    ),
                    self._deployment(
                        svc,
                        old_dep,
                        old_td,
                        "ACTIVE",
                        "COMPLETED",
                        f"ECS deployment {old_dep} completed.",
                    ),
                ],
            )
            self.timeline.add(
                "state", f"{svc.name}: {dep} FAILED (crashing image), no automatic rollback"
            )
            self.queue.put(self._event(svc, "SERVICE_DEPLOYMENT_FAILED", dep, failed_reason))
            return
        back = f"ecs-svc/{secrets.randbelow(10**18)}"
        rolling = f"ECS deployment circuit breaker: rolling back to deploymentId {old_dep}."
        # ECS has started the rollback by the time the FAILED event is delivered
        moto_service(svc).task_definition = old_td
        svc.task_definition, svc.deployment_id = old_td, back
        self._write(
            svc,
            [
                self._deployment(svc, back, old_td, "PRIMARY", "IN_PROGRESS", rolling),
                self._deployment(svc, dep, new_td, "ACTIVE", "FAILED", failed_reason, running=0),
            ],
        )
        self.timeline.add(
            "state",
            f"{svc.name}: {dep} FAILED (crashing {digest[:19]}...), "
            f"circuit breaker rolls back to {td_label(old_td)}",
        )
        self.queue.put(self._event(svc, "SERVICE_DEPLOYMENT_FAILED", dep, failed_reason))
        self.queue.put(self._event(svc, "SERVICE_DEPLOYMENT_IN_PROGRESS", back, rolling))
        self.queue.later(lambda: self._complete(svc, back, old_td))

    # ------------------------------------------------------------------ moto's view
    def _deployment(  # noqa: PLR0917 - internal step
        self,
        svc: SimService,
        dep_id: str,
        td: str,
        status: str,
        rollout: str,
        reason: str,
        running: int | None = None,
    ) -> dict[str, Any]:
        """One entry of a service's ``deployments``, as ECS describes it."""
        ms = moto_service(svc)
        at = now()
        return {
            "id": dep_id,
            "status": status,
            "taskDefinition": td,
            "desiredCount": ms.desired_count,
            "pendingCount": 0,
            "runningCount": ms.desired_count if running is None else running,
            "failedTasks": 0,
            "createdAt": at,
            "updatedAt": at,
            "launchType": ms.launch_type,
            "capacityProviderStrategy": getattr(ms, "capacity_provider_strategy", None) or [],
            "networkConfiguration": getattr(ms, "network_configuration", None) or None,
            "rolloutState": rollout,
            "rolloutStateReason": reason,
        }

    def _write(self, svc: SimService, deployments: list[dict[str, Any]]) -> None:
        ms = moto_service(svc)
        ms.deployments = [{k: v for k, v in d.items() if v is not None} for d in deployments]

    def _event(self, svc: SimService, name: str, dep_id: str, reason: str) -> Event:
        return make_event(
            "aws.ecs",
            "ECS Deployment State Change",
            {
                "eventType": "ERROR" if name.endswith("FAILED") else "INFO",
                "eventName": name,
                "deploymentId": dep_id,
                "updatedAt": iso(millis=True),
                "reason": reason,
            },
            [svc.arn],
        )

    def _digests(self, td_arn: str) -> list[str]:
        """The image digests a task definition's containers are pinned to."""
        td = self.clients("ecs").describe_task_definition(taskDefinition=td_arn)["taskDefinition"]
        return [
            d for c in td.get("containerDefinitions", []) if (d := image_digest(c.get("image", "")))
        ]
