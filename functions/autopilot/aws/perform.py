"""Perform one planned ``Action`` through its adapter: the table from an action's ``api`` to
the call that makes it. The actor (``autopilot.execute``) is its only caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autopilot.aws import ecr, ecs, events, scaling, sns
from autopilot.aws.clients import AwsClients

#: api -> (the client it needs, the adapter function taking (client, params))
_PERFORMERS: dict[str, Callable[[AwsClients, dict[str, Any]], dict[str, Any]]] = {
    "ecs:RegisterTaskDefinition": lambda aws, p: ecs.register_task_definition(aws.ecs, p),
    "ecs:DeregisterTaskDefinition": lambda aws, p: ecs.deregister_task_definition(aws.ecs, p),
    "ecs:UpdateService": lambda aws, p: ecs.update_service(aws.ecs, p),
    "ecs:StopTask": lambda aws, p: ecs.stop_task(aws.ecs, p),
    "ecs:StopServiceDeployment": lambda aws, p: ecs.stop_service_deployment(aws.ecs, p),
    "ecs:ContinueServiceDeployment": lambda aws, p: ecs.continue_service_deployment(aws.ecs, p),
    "autoscaling:SetDesiredCapacity": lambda aws, p: scaling.set_desired_capacity(
        aws.autoscaling, p
    ),
    "autoscaling:UpdateAutoScalingGroup": lambda aws, p: scaling.update_min_size(
        aws.autoscaling, p
    ),
    "application-autoscaling:RegisterScalableTarget": lambda aws, p: (
        scaling.set_scalable_target_min(aws.application_autoscaling, p)
    ),
    "sns:Publish": lambda aws, p: sns.publish(aws.sns, p),
    "events:PutEvents": lambda aws, p: events.put_event(aws.events, p),
    "ecr:PutImage": lambda aws, p: ecr.put_tag(aws.ecr, p),
    "ecr:BatchDeleteImage": lambda aws, p: ecr.remove_tags(aws.ecr, p),
}
APIS = frozenset(_PERFORMERS)


def perform(aws: AwsClients, api: str, params: dict[str, Any]) -> dict[str, Any]:
    """Make the call; its answer as a plain dict. Raises ``AwsCallFailed``."""
    return _PERFORMERS[api](aws, params)
