"""`autopilot adopt`'s judgement, as a pure function of what was read: the verdict, the
reasons (stable codes) and the tags it would write, for each kind of existing service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from autopilot import contract
from autopilot.contract import RepositoryFilter
from autopilot.domain.service import Deployment, Service, StrategyItem

from cli.adopt import (
    NEVER,
    NO_IMAGES,
    REASONS,
    AdoptError,
    ControlPlane,
    Options,
    RolePatterns,
    ServiceFacts,
    judge,
    options,
    role_path,
)

ACCOUNT, REGION = "123456789012", "eu-west-1"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/legacy"
OTHER_CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/elsewhere"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/shop/"
PLANE = ControlPlane(
    clusters=(CLUSTER,),
    repositories=RepositoryFilter(prefixes=("shop/",)),
    pass_roles=RolePatterns.parse(f"path:/shop/,{ROLE}legacy-*"),
    source="stack EcsAutopilot-test",
)
FARGATE = (StrategyItem("FARGATE", 1),)


def service(name: str = "web", **kw: Any) -> Service:
    values: dict[str, Any] = {
        "arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/legacy/{name}",
        "name": name,
        "cluster_arn": CLUSTER,
        "task_definition": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{name}:3",
        "circuit_breaker_rollback": True,
        "strategy": FARGATE,
        "desired_count": 3,
        "subnets": ("subnet-a", "subnet-b", "subnet-c"),
        "az_rebalancing": "ENABLED",
    }
    values.update(kw)
    return Service(**values)


def task_definition(*containers: tuple[str, str], **kw: Any) -> dict[str, Any]:
    td: dict[str, Any] = {
        "family": "web",
        "taskRoleArn": f"{ROLE}web-task",
        "executionRoleArn": f"{ROLE}web-execution",
        "containerDefinitions": [
            {"name": name, "image": image, "essential": i == 0}
            for i, (name, image) in enumerate(
                containers or (("app", f"{REGISTRY}/shop/web:1.4.0"),)
            )
        ],
    }
    td.update(kw)
    return td


def facts(svc: Service | None = None, td: dict[str, Any] | None = None, **kw: Any) -> ServiceFacts:
    values: dict[str, Any] = {
        "service": svc or service(),
        "task_definition": td if td is not None else task_definition(),
        "zones": (f"{REGION}a", f"{REGION}b", f"{REGION}c"),
    }
    values.update(kw)
    return ServiceFacts(**values)


def codes(j: Any) -> set[str]:
    return set(j.codes())


# --------------------------------------------------------------------------- can manage
def test_a_clean_fargate_service_is_managed_with_every_tag_of_the_contract() -> None:
    j = judge(facts(), PLANE, Options())

    assert j.verdict == "manage"
    assert j.image_automation
    assert j.tags == {
        contract.TAG_REPOSITORY: "shop/web",
        contract.TAG_CONTAINER: "app",
        contract.TAG_POLICY: "semver",
        contract.TAG_SCAN: "critical",
        contract.TAG_APPROVAL: "auto",
        contract.TAG_REBALANCE: "on",
    }
    # the image is named by tag, and no admission hook checks other tools' deploys: notes
    assert codes(j) == {"pinned-by-tag", "no-admission-hook"}
    assert j.changes == j.tags


def test_a_service_with_the_admission_hook_or_opted_out_gets_no_note() -> None:
    hook = {
        "hookTargetArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:prod-admission:live",
        "lifecycleStages": ["PRE_SCALE_UP"],
    }
    config = {"strategy": "BLUE_GREEN", "lifecycleHooks": [hook]}
    hooked = judge(facts(service(deployment_configuration=config)), PLANE, Options())
    assert "no-admission-hook" not in codes(hooked)
    off = service(tags={contract.TAG_ADMISSION: "off"})
    assert "no-admission-hook" not in codes(judge(facts(off), PLANE, Options()))
    # a blue/green service without it is told autopilot's next deploy adds it
    bare = judge(
        facts(service(deployment_configuration={"strategy": "BLUE_GREEN"})), PLANE, Options()
    )
    (note,) = [r for r in bare.reasons if r.code == "no-admission-hook"]
    assert "next deploy adds it" in note.message


def test_the_choices_are_written_and_a_pattern_policy_is_encoded() -> None:
    chosen = options(policy="glob:v1.*", scan="high", approval="manual", rebalance="off")

    j = judge(facts(), PLANE, chosen)

    assert j.tags[contract.TAG_POLICY] == contract.encode_policy_tag("glob:v1.*")
    assert j.tags[contract.TAG_POLICY].startswith("glob64:")
    assert j.tags[contract.TAG_SCAN] == "high"
    assert j.tags[contract.TAG_APPROVAL] == "manual"
    assert j.tags[contract.TAG_REBALANCE] == "off"


def test_the_ecr_container_is_chosen_beside_public_sidecars() -> None:
    td = task_definition(
        ("envoy", "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.27"),
        ("app", f"{REGISTRY}/shop/web@sha256:" + "ab" * 32),
        ("log-router", "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"),
    )

    j = judge(facts(td=td), PLANE, Options())

    assert j.verdict == "manage"
    assert (j.repository, j.container) == ("shop/web", "app")
    assert "pinned-by-tag" not in codes(j)


# --------------------------------------------------------------------------- never
@pytest.mark.parametrize("controller", ["CODE_DEPLOY", "EXTERNAL"])
def test_a_service_another_controller_deploys_is_never_managed_and_said_once(
    controller: str,
) -> None:
    svc = service(deployment_controller=controller, circuit_breaker_rollback=False)

    j = judge(facts(svc), PLANE, Options())

    assert j.verdict == "never"
    assert j.tags == {}
    assert j.codes() == ["deployment-controller"]
    assert controller in j.reasons[0].message
    assert j.reasons[0].severity == NEVER


def test_a_cluster_the_control_plane_does_not_manage_is_never_tagged() -> None:
    svc = service(
        cluster_arn=OTHER_CLUSTER, arn=OTHER_CLUSTER.replace("cluster/", "service/") + "/web"
    )

    j = judge(facts(svc), PLANE, Options())

    assert j.verdict == "never"
    assert j.tags == {}
    assert "cluster-not-managed" in codes(j)
    assert "elsewhere" in j.reasons[0].message


def test_a_cluster_named_without_an_arn_is_managed_by_name() -> None:
    plane = PLANE._replace(clusters=("legacy",))
    assert judge(facts(), plane, Options()).verdict == "manage"


def test_an_old_format_arn_cannot_be_tagged() -> None:
    svc = service(arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/web")

    j = judge(facts(svc), PLANE, Options())

    assert j.verdict == "never"
    assert "short-arn" in codes(j)


# --------------------------------------------------------------------------- no image automation
@pytest.mark.parametrize(
    ("containers", "code"),
    [
        ((("app", "public.ecr.aws/nginx/nginx:1.27"),), "image-not-ecr"),
        ((("app", "nginx:1.27"),), "image-not-ecr"),
        (
            (("app", f"210987654321.dkr.ecr.{REGION}.amazonaws.com/shop/web:1"),),
            "image-other-registry",
        ),
        (
            (("app", f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/shop/web:1"),),
            "image-other-registry",
        ),
        ((("app", f"{REGISTRY}/billing/api:1"),), "repository-not-covered"),
        (
            (("app", f"{REGISTRY}/shop/web:1"), ("worker", f"{REGISTRY}/shop/web:1")),
            "several-containers",
        ),
        (
            (("app", f"{REGISTRY}/shop/web:1"), ("jobs", f"{REGISTRY}/shop/jobs:1")),
            "several-repositories",
        ),
    ],
)
def test_images_autopilot_cannot_follow_leave_zone_balance_only(
    containers: tuple[tuple[str, str], ...], code: str
) -> None:
    j = judge(facts(td=task_definition(*containers)), PLANE, Options())

    assert j.verdict == "partial"
    assert code in codes(j)
    assert REASONS[code][0] == NO_IMAGES
    assert j.tags == {contract.TAG_REBALANCE: "on"}
    assert not j.image_automation


def test_container_and_repository_choose_among_several() -> None:
    td = task_definition(("app", f"{REGISTRY}/shop/web:1"), ("worker", f"{REGISTRY}/shop/web:1"))
    j = judge(facts(td=td), PLANE, options(container="worker"))
    assert (j.verdict, j.container) == ("manage", "worker")

    td = task_definition(("app", f"{REGISTRY}/shop/web:1"), ("jobs", f"{REGISTRY}/shop/jobs:1"))
    j = judge(facts(td=td), PLANE, options(repository="shop/jobs"))
    assert (j.verdict, j.repository, j.container) == ("manage", "shop/jobs", "jobs")


def test_a_container_or_repository_the_task_definition_lacks_is_said() -> None:
    j = judge(facts(), PLANE, options(container="sidecar"))
    assert "container-not-found" in codes(j)
    assert j.verdict == "partial"

    j = judge(facts(), PLANE, options(repository="shop/other"))
    assert "repository-not-used" in codes(j)

    j = judge(facts(), PLANE, options(repository="shop/other", container="app"))
    assert j.verdict == "manage"
    assert "container-runs-other-image" in codes(j)
    assert j.tags[contract.TAG_REPOSITORY] == "shop/other"


def test_roles_the_control_plane_may_not_pass_stop_image_automation() -> None:
    td = task_definition(taskRoleArn=f"arn:aws:iam::{ACCOUNT}:role/admin")

    j = judge(facts(td=td), PLANE, Options())

    assert j.verdict == "partial"
    assert "role-not-passable" in codes(j)
    (reason,) = [r for r in j.reasons if r.code == "role-not-passable"]
    assert "role/admin" in reason.message
    assert "iam:PassRole" in reason.message


def test_roles_by_arn_pattern_path_and_tag() -> None:
    by_pattern = task_definition(
        taskRoleArn=f"{ROLE}legacy-task", executionRoleArn=f"{ROLE}legacy-exec"
    )
    assert judge(facts(td=by_pattern), PLANE, Options()).verdict == "manage"

    tagged = ControlPlane(
        PLANE.clusters,
        PLANE.repositories,
        RolePatterns.parse("tag:autopilot-passable=yes"),
        "flags",
    )
    roles = {f"{ROLE}web-task": {"autopilot-passable": "yes"}, f"{ROLE}web-execution": {}}
    j = judge(facts(role_tags=roles), tagged, Options())
    assert "role-not-passable" in codes(j)  # the execution role lacks the tag

    unread = {f"{ROLE}web-task": None, f"{ROLE}web-execution": None}
    j = judge(facts(role_tags=unread), tagged, Options())
    assert j.verdict == "manage"
    assert "role-unverified" in codes(j)


def test_unknown_passable_roles_are_a_warning_not_a_refusal() -> None:
    j = judge(facts(), PLANE._replace(pass_roles=None), Options())
    assert j.verdict == "manage"
    assert "pass-roles-unknown" in codes(j)


def test_a_role_named_without_an_arn_is_taken_in_the_service_account() -> None:
    td = task_definition(taskRoleArn="admin", executionRoleArn=None)
    j = judge(facts(td=td), PLANE, Options())
    assert "role-not-passable" in codes(j)
    assert f"arn:aws:iam::{ACCOUNT}:role/admin" in " ".join(r.message for r in j.reasons)


def test_no_task_definition_means_no_image_automation() -> None:
    no_td = facts(service(task_definition=""))._replace(task_definition=None)
    j = judge(no_td, PLANE, Options())
    assert j.verdict == "partial"
    assert "no-task-definition" in codes(j)


# --------------------------------------------------------------------------- warnings and notes
def test_no_circuit_breaker_with_rollback_is_a_warning() -> None:
    j = judge(facts(service(circuit_breaker_rollback=False)), PLANE, Options())
    assert j.verdict == "manage"
    assert "no-circuit-breaker" in codes(j)


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        (
            {
                "strategy": (StrategyItem("cp-ec2", 1),),
                "placement_strategy": (("binpack", "memory"),),
            },
            "placement-excludes-rebalancing",
        ),
        (
            {
                "strategy": (StrategyItem("cp-ec2", 1),),
                "placement_strategy": (("spread", "instanceId"),),
            },
            "placement-excludes-rebalancing",
        ),
        ({"az_placement_constraint": True}, "placement-excludes-rebalancing"),
        ({"az_rebalancing": "DISABLED"}, "rebalancing-off"),
        ({"az_rebalancing": None}, "rebalancing-off"),
        ({"launch_type": "EXTERNAL", "strategy": ()}, "external-launch-type"),
        (
            {"deployments": (Deployment("d1", "PRIMARY", "td:2", "IN_PROGRESS"),)},
            "deployment-in-progress",
        ),
    ],
)
def test_placement_and_deployment_notes(kw: dict[str, Any], code: str) -> None:
    j = judge(facts(service(**kw)), PLANE, Options())
    assert code in codes(j)
    assert j.verdict == "manage"


def test_an_eligible_service_with_rebalancing_on_has_no_placement_note() -> None:
    ec2_spread_zone = service(
        strategy=(StrategyItem("cp-ec2", 1),),
        placement_strategy=(
            ("spread", "attribute:ecs.availability-zone"),
            ("spread", "instanceId"),
        ),
    )
    assert not codes(judge(facts(ec2_spread_zone), PLANE, Options())) & {
        "placement-excludes-rebalancing",
        "rebalancing-off",
    }


def test_a_service_by_the_cluster_default_strategy_uses_what_was_read_of_it() -> None:
    default = service(strategy=(), launch_type=None)
    assert "placement-excludes-rebalancing" in codes(judge(facts(default), PLANE, Options()))
    assert "placement-excludes-rebalancing" not in codes(
        judge(facts(default, fargate=True), PLANE, Options())
    )


def test_daemon_services_keep_image_automation_and_turn_zone_balance_off() -> None:
    j = judge(facts(service(scheduling_strategy="DAEMON")), PLANE, Options())
    assert j.verdict == "manage"
    assert "daemon" in codes(j)
    assert j.tags[contract.TAG_REBALANCE] == "off"


def test_a_single_zone_is_noted() -> None:
    assert "single-zone" in codes(judge(facts(zones=(f"{REGION}a",)), PLANE, Options()))


@pytest.mark.parametrize(
    ("image", "flagged"),
    [
        (f"{REGISTRY}/shop/web:latest", True),
        (f"{REGISTRY}/shop/web@sha256:" + "cd" * 32, True),
        (f"{REGISTRY}/shop/web:1.4.0", False),
    ],
)
def test_a_scoped_semver_policy_needs_a_semver_running_tag(image: str, flagged: bool) -> None:
    j = judge(facts(td=task_definition(("app", image))), PLANE, options(policy="semver:minor"))
    assert ("policy-needs-version" in codes(j)) is flagged
    assert "policy-needs-version" not in codes(
        judge(facts(td=task_definition(("app", image))), PLANE, Options())
    )


def test_existing_tags_are_compared_and_malformed_or_stale_ones_said() -> None:
    adopted = service(
        tags={
            contract.TAG_REPOSITORY: "shop/web",
            contract.TAG_CONTAINER: "app",
            contract.TAG_POLICY: "semver",
            contract.TAG_SCAN: "critical",
            contract.TAG_APPROVAL: "auto",
            contract.TAG_REBALANCE: "on",
            "team": "payments",
        }
    )
    j = judge(facts(adopted), PLANE, Options())
    assert "already-adopted" in codes(j)
    assert j.changes == {}
    assert "team" not in j.current

    bad = service(tags={contract.TAG_REPOSITORY: "shop/web", contract.TAG_SCAN: "sometimes"})
    j = judge(facts(bad), PLANE, Options())
    assert "existing-tag-malformed" in codes(j)
    assert j.changes[contract.TAG_SCAN] == "critical"

    stale = service(tags={contract.TAG_REPOSITORY: "shop/web"})
    td = task_definition(("app", "public.ecr.aws/nginx/nginx:1"))
    j = judge(facts(stale, td), PLANE, Options())
    assert "stale-tags" in codes(j)


def test_every_reason_given_is_in_the_table() -> None:
    seen = set()
    for svc, td in (
        (service(deployment_controller="CODE_DEPLOY"), task_definition()),
        (service(circuit_breaker_rollback=False, az_rebalancing=None), task_definition()),
        (service(), task_definition(("app", "nginx"))),
    ):
        for r in judge(facts(svc, td), PLANE, Options()).reasons:
            seen.add(r.code)
            assert REASONS[r.code][0] == r.severity
            assert r.message
    assert seen


# --------------------------------------------------------------------------- input
@pytest.mark.parametrize(
    ("kw", "flag"),
    [
        ({"policy": "latest"}, "--policy"),
        ({"policy": "regex:(a+)+$"}, "--policy"),
        ({"scan": "sometimes"}, "--scan"),
        ({"approval": "maybe"}, "--approval"),
        ({"rebalance": "yes"}, "--rebalance"),
        ({"repository": "Shop/Web"}, "--repository"),
        ({"container": "a b"}, "--container"),
    ],
)
def test_bad_choices_are_refused_with_the_flag_named(kw: dict[str, str], flag: str) -> None:
    with pytest.raises(AdoptError, match=f"^{flag} "):
        options(**kw)


@pytest.mark.parametrize(
    "text",
    ["", "arn:aws:s3:::bucket", "path:teams", "tag:", "admin", "path:/teams"],
)
def test_bad_role_patterns_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        RolePatterns.parse(text)


def test_a_control_plane_that_may_pass_no_role() -> None:
    none = RolePatterns.parse("-")
    assert str(none) == "-"
    assert none.allows(f"{ROLE}web-task", None) is False
    j = judge(facts(), PLANE._replace(pass_roles=none), Options())
    assert j.verdict == "partial"
    assert "role-not-passable" in codes(j)


def test_role_patterns_read_back_as_written() -> None:
    text = f"{ROLE}a-*,path:/teams/,tag:k=v,tag:k2"
    assert str(RolePatterns.parse(text)) == text
    assert role_path(f"arn:aws:iam::{ACCOUNT}:role/teams/a/web") == "/teams/a/"
    assert role_path(f"arn:aws:iam::{ACCOUNT}:role/web") == "/"


def test_the_readme_lists_every_reason() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [c for c in REASONS if f"| `{c}` | {REASONS[c][0]} |" not in readme]
    assert missing == []
