"""THE SIMULATOR: everything the sandbox fakes because moto does not do it.

moto stores ECS services, ECR images and CloudWatch alarms, but nothing *happens* to
them: services never run tasks, deployments never finish, pushes emit no events, scans
never complete, alarms change state silently. This package supplies exactly those
behaviours, in the sandbox process, next to moto's in-process backends, behind one
facade, :class:`Simulator` (``facade.py``). One module per concern:

* ``tasks``: each service runs its desired count of tasks, placed in zones, mirrored into
  moto's ECS backend; starts and stops emit ``ECS Task State Change``; lost tasks are
  replaced; ECS's own AZ rebalancing.
* ``deployments``: a new task definition becomes a deployment that reaches ``COMPLETED``,
  or ``FAILED`` by the circuit breaker (and ECS's rollback) for a crashing image.
* ``capacity``: Auto Scaling instances as container instances with their remaining
  resources, EC2 placement, Fargate and Fargate Spot, scalable targets, ``ECS Service
  Action`` events.
* ``registry``: a push (``PutImage``) emits ``ECR Image Action``, then ``ECR Image Scan`` or
  ``Inspector2 Scan`` by the registry's scanning configuration.
* ``alarms``: ``SetAlarmState`` plus the ``CloudWatch Alarm State Change`` event.
* ``state`` (the services, tasks and instances they share), ``bus`` (the event envelope
  and the queue) and ``presentation`` (the timeline's lines) sit below them.

Every event has the shape AWS sends (see the sample events in events/) and goes through the
router, like EventBridge. Nothing in ``functions/`` knows any of this.
"""

from sandbox.simulator.bus import make_event
from sandbox.simulator.facade import Simulator
from sandbox.simulator.registry import SEVERITIES, PushResult, image_manifest
from sandbox.simulator.state import SimInstance, SimService, SimTask, SimulatorError

__all__ = [
    "SEVERITIES",
    "PushResult",
    "SimInstance",
    "SimService",
    "SimTask",
    "Simulator",
    "SimulatorError",
    "image_manifest",
    "make_event",
]
