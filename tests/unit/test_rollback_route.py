"""How a planned rollback is made, pure (``logic.deployment_plan.rollback_route``): ECS's own
rollback (StopServiceDeployment ROLLBACK) while ECS rolls out the revision rolled back from
and would go back to the target; an UpdateService otherwise, saying why when a deployment
is in progress."""

from __future__ import annotations

import pytest
from autopilot.domain.service import Deployment, Service, ServiceDeployment
from autopilot.logic.deployment_plan import ecs_rollback_blocked, rollback_route

ARN = "arn:aws:ecs:us-east-1:123456789012:service/c/web"
CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/c"
ORIG_TD, GOOD_TD, BAD_TD = (
    f"arn:aws:ecs:us-east-1:123456789012:task-definition/web:{n}" for n in (1, 2, 3)
)
SD = "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/web/Xy12"
IN_PROGRESS = (ServiceDeployment(SD, "IN_PROGRESS"),)


def svc(*deployments: Deployment, controller: str = "ECS", on: str = BAD_TD) -> Service:
    return Service(
        ARN,
        "web",
        CLUSTER,
        on,
        {"autopilot:repository": "demo/web"},
        deployments,
        deployment_controller=controller,
    )


ROLLING_OUT = (
    Deployment("d-bad", "PRIMARY", BAD_TD, "IN_PROGRESS"),
    Deployment("d-good", "ACTIVE", GOOD_TD, "COMPLETED"),
)


def test_in_progress_and_ecs_goes_back_to_the_target_stops_with_rollback() -> None:
    route = rollback_route(svc(*ROLLING_OUT), BAD_TD, GOOD_TD, IN_PROGRESS)

    assert route.stop == SD
    assert route.reason == "through ECS: StopServiceDeployment ROLLBACK of Xy12"


def test_nothing_in_progress_is_an_update_service_with_no_more_said() -> None:
    route = rollback_route(svc(*ROLLING_OUT), BAD_TD, GOOD_TD, ())

    assert route.stop is None
    assert route.reason == ""


@pytest.mark.parametrize(
    ("deployments", "controller", "target", "why"),
    [
        # a rollback to an older revision than the one ECS would go back to
        (ROLLING_OUT, "ECS", ORIG_TD, "ECS's rollback would go back to web:2, not web:1"),
        # the first deployment: nothing before it
        (
            ROLLING_OUT[:1],
            "ECS",
            GOOD_TD,
            "ECS's rollback would go back to no previous revision, not web:2",
        ),
        # ECS already ended it (the FAILED event's deployment)
        (
            (Deployment("d-bad", "PRIMARY", BAD_TD, "FAILED"), ROLLING_OUT[1]),
            "ECS",
            GOOD_TD,
            "its deployment is FAILED",
        ),
        # the deployment in progress is of another revision
        (
            (Deployment("d-new", "PRIMARY", ORIG_TD, "IN_PROGRESS"), ROLLING_OUT[1]),
            "ECS",
            GOOD_TD,
            "no deployment of the revision rolled back is in progress",
        ),
        # StopServiceDeployment is for ECS's own deployment controller
        (ROLLING_OUT, "CODE_DEPLOY", GOOD_TD, "CODE_DEPLOY deploys it"),
    ],
)
def test_ecs_rollback_would_not_land_on_the_target_is_an_update_service_saying_why(
    deployments: tuple[Deployment, ...], controller: str, target: str, why: str
) -> None:
    s = svc(*deployments, controller=controller)

    assert ecs_rollback_blocked(s, BAD_TD, target) == why
    route = rollback_route(s, BAD_TD, target, IN_PROGRESS)
    assert route.stop is None
    assert route.reason == f"UpdateService: {why}"


def test_two_deployments_listed_in_progress_is_an_update_service() -> None:
    two = (*IN_PROGRESS, ServiceDeployment(SD + "2", "PENDING"))

    route = rollback_route(svc(*ROLLING_OUT), BAD_TD, GOOD_TD, two)

    assert route == (None, "UpdateService: ECS lists 2 deployments in progress")


def test_an_unknown_revision_rolled_back_from_never_stops() -> None:
    assert ecs_rollback_blocked(svc(*ROLLING_OUT), None, GOOD_TD) is not None
    assert rollback_route(svc(*ROLLING_OUT), None, GOOD_TD, IN_PROGRESS).stop is None
