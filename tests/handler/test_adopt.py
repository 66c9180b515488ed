"""`autopilot adopt` against moto: a cluster and services made by plain API calls, as
Terraform or the console would make them (an adoptable Fargate service, a CODE_DEPLOY and
an EXTERNAL one, a public image, a foreign role, a DAEMON...), judged, tagged with
``--apply``, untagged with ``--undo``; the command's exit codes and output."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from autopilot import contract
from autopilot.contract import RepositoryFilter
from autopilot.domain.service import service_arn_of
from autopilot.errors import AwsCallFailed
from autopilot.handlers import image_events
from autopilot.logic import retention
from autopilot.settings import get_settings

from cli import adopt
from cli.main import main
from tests.estate import ACCOUNT, CLUSTER_ARN, REGION, REGISTRY, Estate

LEGACY = "legacy"
LEGACY_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{LEGACY}"
ROLES = f"arn:aws:iam::{ACCOUNT}:role/legacy/"
PASS_ROLES = "path:/legacy/"
FLAGS = (
    "--managed-clusters",
    LEGACY_ARN,
    "--repositories",
    "prefix:legacy/",
    "--pass-roles",
    PASS_ROLES,
)


class Legacy:
    """A cluster made outside autopilot: the estate's VPC, plain ECS, ECR and IAM calls."""

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.ecs = estate.ecs
        self.iam = boto3.client("iam", region_name=REGION)
        self.ecs.create_cluster(clusterName=LEGACY)
        self.ecs.put_cluster_capacity_providers(
            cluster=LEGACY,
            capacityProviders=["FARGATE", "FARGATE_SPOT"],
            defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        )
        for name, path in (("web-task", "/legacy/"), ("web-exec", "/legacy/"), ("admin", "/")):
            self.iam.create_role(
                RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps({"Statement": []})
            )
        estate.repo("legacy/web")
        estate.push("legacy/web", "1.0.0")

    def service(
        self,
        name: str,
        image: str = f"{REGISTRY}/legacy/web:1.0.0",
        *,
        controller: str = "ECS",
        task_role: str = f"{ROLES}web-task",
        breaker: bool = True,
        tags: dict[str, str] | None = None,
        scheduling: str = "REPLICA",
        desired: int = 3,
    ) -> str:
        td = self.ecs.register_task_definition(
            family=f"legacy-{name}",
            taskRoleArn=task_role,
            executionRoleArn=f"{ROLES}web-exec",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {"name": "app", "image": image, "essential": True},
                {
                    "name": "log-router",
                    "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
                    "essential": False,
                },
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        params: dict[str, Any] = {
            "cluster": LEGACY,
            "serviceName": name,
            "taskDefinition": td,
            "desiredCount": desired,
            "deploymentController": {"type": controller},
            "schedulingStrategy": scheduling,
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": list(self.estate.subnets.values()),
                    "securityGroups": [self.estate.security_group],
                }
            },
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        }
        if scheduling == "DAEMON":
            params.pop("desiredCount")
        arn = str(self.ecs.create_service(**params)["service"]["serviceArn"])
        if controller == "ECS":
            # what create_service drops in moto (the estate's note): strategy, breaker
            self.ecs.update_service(
                cluster=LEGACY,
                service=name,
                capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
                deploymentConfiguration={
                    "deploymentCircuitBreaker": {"enable": breaker, "rollback": breaker},
                    "maximumPercent": 200,
                    "minimumHealthyPercent": 100,
                },
                availabilityZoneRebalancing="ENABLED",
            )
            self.estate.backend.services[f"{LEGACY}:{name}"].deployments[0]["rolloutState"] = (
                "COMPLETED"
            )
        self.estate.reset_counts()
        return arn

    def tags(self, name: str) -> dict[str, str]:
        (svc,) = self.ecs.describe_services(cluster=LEGACY, services=[name], include=["TAGS"])[
            "services"
        ]
        return {t["key"]: t["value"] for t in svc.get("tags", [])}


@pytest.fixture
def legacy(estate: Estate) -> Legacy:
    world = Legacy(estate)
    world.service("web", tags={"team": "shop"})
    world.service("canary", controller="CODE_DEPLOY")
    world.service("promo", image="public.ecr.aws/nginx/nginx:stable", breaker=False)
    world.service("admin-jobs", task_role=f"arn:aws:iam::{ACCOUNT}:role/admin")
    return world


def plane(**kw: Any) -> adopt.ControlPlane:
    values: dict[str, Any] = {
        "clusters": (LEGACY_ARN,),
        "repositories": RepositoryFilter(prefixes=("legacy/",)),
        "pass_roles": adopt.RolePatterns.parse(PASS_ROLES),
        "source": "test",
    }
    values.update(kw)
    return adopt.ControlPlane(**values)


def verdicts(report: adopt.Report) -> dict[str, tuple[str, set[str]]]:
    return {
        o.judgement.service: (o.judgement.verdict, set(o.judgement.codes()))
        for o in report.outcomes
    }


# --------------------------------------------------------------------------- the judgement, read
def test_each_service_is_judged_from_what_aws_says(estate: Estate, legacy: Legacy) -> None:
    report = adopt.adopt(estate.clients, LEGACY, plane(), adopt.Options())

    found = verdicts(report)
    assert found["web"] == ("manage", {"pinned-by-tag", "no-admission-hook"})
    assert found["canary"] == ("never", {"deployment-controller"})
    assert found["promo"][0] == "partial"
    assert {"image-not-ecr", "no-circuit-breaker"} <= found["promo"][1]
    assert found["admin-jobs"][0] == "partial"
    assert "role-not-passable" in found["admin-jobs"][1]
    assert report.cluster == LEGACY_ARN
    # a dry run writes nothing and reads only
    assert legacy.tags("web") == {"team": "shop"}
    assert not estate.mutations()
    assert "ecs:TagResource" not in estate.calls


def test_the_external_controller_and_a_daemon(estate: Estate, legacy: Legacy) -> None:
    legacy.service("edge", controller="EXTERNAL")
    legacy.service("agent", scheduling="DAEMON")

    found = verdicts(adopt.adopt(estate.clients, LEGACY, plane(), adopt.Options()))

    assert found["edge"] == ("never", {"deployment-controller"})
    assert found["agent"][0] == "manage"
    assert "daemon" in found["agent"][1]


def test_a_cluster_the_control_plane_does_not_manage(estate: Estate, legacy: Legacy) -> None:
    other = plane(clusters=(f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/demo-cluster",))

    report = adopt.adopt(estate.clients, LEGACY, other, adopt.Options(), mode="apply")

    assert {v for v, _ in verdicts(report).values()} == {"never"}
    assert all("cluster-not-managed" in c for _, c in verdicts(report).values())
    assert legacy.tags("web") == {"team": "shop"}


def test_roles_by_tag_are_read_from_iam(estate: Estate, legacy: Legacy) -> None:
    legacy.iam.tag_role(RoleName="web-task", Tags=[{"Key": "passable", "Value": "yes"}])
    legacy.iam.tag_role(RoleName="web-exec", Tags=[{"Key": "passable", "Value": "yes"}])
    by_tag = plane(pass_roles=adopt.RolePatterns.parse("tag:passable=yes"))

    report = adopt.adopt(
        estate.clients,
        LEGACY,
        by_tag,
        adopt.Options(),
        services=["web", "admin-jobs"],
        role_tags=adopt.iam_role_tags(legacy.iam),
    )

    found = verdicts(report)
    assert found["web"][0] == "manage"
    assert "role-not-passable" in found["admin-jobs"][1]


# --------------------------------------------------------------------------- apply and undo
def test_apply_writes_the_contract_tags_and_undo_removes_them(
    estate: Estate, legacy: Legacy
) -> None:
    chosen = adopt.options(policy="semver:minor", scan="high", approval="manual")

    report = adopt.adopt(estate.clients, LEGACY, plane(), chosen, mode="apply")

    assert report.ok
    assert legacy.tags("web") == {
        "team": "shop",
        contract.TAG_REPOSITORY: "legacy/web",
        contract.TAG_CONTAINER: "app",
        contract.TAG_POLICY: "semver:minor",
        contract.TAG_SCAN: "high",
        contract.TAG_APPROVAL: "manual",
        contract.TAG_REBALANCE: "on",
    }
    assert legacy.tags("promo") == {contract.TAG_REBALANCE: "on"}
    assert legacy.tags("admin-jobs") == {contract.TAG_REBALANCE: "on"}
    assert legacy.tags("canary") == {}  # never: nothing written
    assert estate.calls["ecs:TagResource"] == 3

    again = adopt.adopt(estate.clients, LEGACY, plane(), chosen, mode="apply")
    assert not any(o.written for o in again.outcomes)  # nothing changes: no call
    assert "already-adopted" in verdicts(again)["web"][1]

    undone = adopt.adopt(estate.clients, LEGACY, plane(), chosen, mode="undo")

    assert undone.ok
    assert legacy.tags("web") == {"team": "shop"}
    assert all(
        not any(k.startswith(contract.TAG_PREFIX) for k in legacy.tags(n))
        for n in ("web", "promo", "admin-jobs", "canary")
    )


def test_undo_removes_tags_from_a_service_autopilot_never_manages(
    estate: Estate, legacy: Legacy
) -> None:
    legacy.service(
        "handmade",
        controller="CODE_DEPLOY",
        tags={contract.TAG_REPOSITORY: "legacy/web", "owner": "ops"},
    )

    dry = adopt.adopt(estate.clients, LEGACY, plane(), adopt.Options(), services=["handmade"])
    assert verdicts(dry)["handmade"] == ("never", {"deployment-controller", "stale-tags"})

    adopt.adopt(
        estate.clients, LEGACY, plane(), adopt.Options(), services=["handmade"], mode="undo"
    )

    assert legacy.tags("handmade") == {"owner": "ops"}


def test_only_the_services_named(estate: Estate, legacy: Legacy) -> None:
    report = adopt.adopt(
        estate.clients, LEGACY, plane(), adopt.Options(), services=["promo"], mode="apply"
    )
    assert [o.judgement.service for o in report.outcomes] == ["promo"]
    assert contract.TAG_REPOSITORY not in legacy.tags("web")


def test_bad_input_tags_nothing(estate: Estate, legacy: Legacy) -> None:
    with pytest.raises(adopt.AdoptError, match="no cluster nowhere"):
        adopt.adopt(estate.clients, "nowhere", plane(), adopt.Options(), mode="apply")
    with pytest.raises(adopt.AdoptError, match="no active service ghost in cluster legacy"):
        adopt.adopt(
            estate.clients,
            LEGACY,
            plane(),
            adopt.Options(),
            services=["web", "ghost"],
            mode="apply",
        )
    assert legacy.tags("web") == {"team": "shop"}
    assert "ecs:TagResource" not in estate.calls


# --------------------------------------------------------------------------- the command
def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["adopt", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_dry_run_prints_verdicts_reasons_and_tags(
    legacy: Legacy, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, LEGACY, *FLAGS)

    assert code == 0, err
    assert "managed by the control plane (--managed-clusters" in out
    assert "would write autopilot:repository=legacy/web autopilot:container=app" in out
    assert "deployment-controller: its deployment controller is CODE_DEPLOY" in out
    assert "image-not-ecr" in out
    assert "role-not-passable" in out
    assert out.rstrip().endswith("--apply writes the tags of 3 service(s)")
    assert legacy.tags("web") == {"team": "shop"}


def test_json_is_machine_clean_and_apply_exits_0(
    legacy: Legacy, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, LEGACY, *FLAGS, "--apply", "--json", "--policy", "glob:v1.*")

    assert code == 0, err
    doc = json.loads(out)  # only JSON on stdout
    assert doc["mode"] == "apply"
    assert doc["ok"]
    assert doc["summary"] == {
        "services": 4,
        "manage": 1,
        "partial": 2,
        "never": 1,
        "written": 3,
        "removed": 0,
        "failed": 0,
    }
    web = next(s for s in doc["services"] if s["service"] == "web")
    assert web["written"][contract.TAG_POLICY] == contract.encode_policy_tag("glob:v1.*")
    assert {r["code"] for r in web["reasons"]} <= set(adopt.REASONS)
    assert doc["control_plane"]["clusters"] == [LEGACY_ARN]
    assert legacy.tags("web")[contract.TAG_POLICY].startswith("glob64:")

    code, out, err = run(capsys, LEGACY, *FLAGS, "--undo", "--json")
    assert code == 0, err
    assert json.loads(out)["summary"]["removed"] == 3
    assert legacy.tags("web") == {"team": "shop"}


def test_a_failed_write_exits_1_and_says_which(
    legacy: Legacy, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = adopt.ecs.tag_resource

    def denied(client: Any, params: dict[str, Any]) -> dict[str, Any]:
        if params["resourceArn"].endswith("/promo"):
            raise AwsCallFailed("ecs:TagResource", "AccessDeniedException", "not allowed")
        return real(client, params)

    monkeypatch.setattr(adopt.ecs, "tag_resource", denied)

    code, out, err = run(capsys, LEGACY, *FLAGS, "--apply")

    assert code == 1
    assert "promo" in err
    assert "AccessDeniedException" in err
    assert "FAILED" in out
    assert legacy.tags("web")[contract.TAG_REPOSITORY] == "legacy/web"  # the others are written


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("nowhere", *FLAGS, "--apply"), "no cluster nowhere"),
        ((LEGACY, "--service", "ghost", *FLAGS, "--apply"), "no active service ghost"),
        ((LEGACY, "--service", "web", "--service", "ghost", *FLAGS, "--apply"), "ghost"),
        ((LEGACY, *FLAGS, "--policy", "latest", "--apply"), "--policy 'latest'"),
        ((LEGACY, *FLAGS, "--scan", "low", "--apply"), "--scan 'low'"),
        ((LEGACY, *FLAGS, "--approval", "later", "--apply"), "--approval 'later'"),
        ((LEGACY, "--managed-clusters", LEGACY_ARN, "--repositories", "prefix:"), "--repositories"),
        ((LEGACY, "--managed-clusters", LEGACY_ARN, "--pass-roles", "admin"), "--pass-roles"),
        ((LEGACY, *FLAGS, "--apply", "--undo"), "--apply and --undo exclude each other"),
        ((LEGACY, "--stack", "NoSuchStack"), "no stack NoSuchStack"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_tagged(
    legacy: Legacy, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], says: str
) -> None:
    code, out, err = run(capsys, *argv)

    assert code == 2, (out, err)
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert says in lines[0]
    assert "Traceback" not in err
    assert legacy.tags("web") == {"team": "shop"}


def test_no_control_plane_is_bad_input(legacy: Legacy, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, LEGACY)
    assert code == 2
    assert "no control plane found" in err


# --------------------------------------------------------------------------- then the functions
def test_what_adopt_apply_writes_is_what_the_functions_act_on(
    estate: Estate, legacy: Legacy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the legacy cluster managed by the functions, adopted with --apply
    monkeypatch.setenv("CLUSTER_ARNS", f"{CLUSTER_ARN},{LEGACY_ARN}")
    monkeypatch.setenv("REPOSITORIES", "prefix:legacy/")
    get_settings.cache_clear()
    chosen = adopt.options(scan="off")
    assert adopt.adopt(estate.clients, LEGACY, plane(), chosen, mode="apply").ok
    # and someone tags the CodeDeploy service by hand, as adopt never would
    canary = service_arn_of(LEGACY_ARN, "canary")
    legacy.ecs.tag_resource(
        resourceArn=canary, tags=[{"key": contract.TAG_REPOSITORY, "value": "legacy/web"}]
    )
    canary_before = estate.describe(canary)["taskDefinition"]

    # When a new image is pushed to the repository
    new = estate.push("legacy/web", "1.1.0")
    report = image_events.run(estate.push_event("legacy/web", new, "1.1.0"), aws=estate.clients)

    # Then the adopted service deploys it pinned by digest; the CodeDeploy one is refused
    found = {d.service.rsplit("/", 1)[-1]: d for d in report.decisions}
    assert found["web"].outcome.value == "deployed"
    web = service_arn_of(LEGACY_ARN, "web")
    assert estate.running_image(web) == f"{REGISTRY}/legacy/web@{new}"
    assert found["canary"].outcome.value == "rejected"
    assert "CODE_DEPLOY" in found["canary"].reason
    assert estate.describe(canary)["taskDefinition"] == canary_before


# --------------------------------------------------------------------------- retention
def test_adopt_says_what_a_tracked_repository_lacks_for_the_protective_tags(
    estate: Estate, legacy: Legacy
) -> None:
    # Given the repository web tracks: IMMUTABLE, its lifecycle policy without the rule
    estate.ecr.put_image_tag_mutability(repositoryName="legacy/web", imageTagMutability="IMMUTABLE")
    keep_50 = {
        "rulePriority": 1,
        "selection": {
            "tagStatus": "any",
            "countType": "imageCountMoreThan",
            "countNumber": 50,
        },
        "action": {"type": "expire"},
    }
    estate.ecr.put_lifecycle_policy(
        repositoryName="legacy/web", lifecyclePolicyText=json.dumps({"rules": [keep_50]})
    )

    report = adopt.adopt(estate.clients, LEGACY, plane(), adopt.Options())

    # Then it names both gaps and prints what to add, changing nothing
    missing = report.retention["legacy/web"]
    assert [m.split(":")[0] for m in missing] == ["lifecycle", "mutability"]
    text = "\n".join(adopt.render(report))
    assert "repository legacy/web: lacks what keeps the protective tags" in text
    assert '"tagPrefixList": ["autopilot-keep-"]' in text
    assert "filter=autopilot-keep-*" in text
    assert report.to_json()["repositories"] == [
        {"repository": "legacy/web", "retention_missing": missing}
    ]
    assert (
        estate.ecr.describe_repositories(repositoryNames=["legacy/web"])["repositories"][0][
            "imageTagMutability"
        ]
        == "IMMUTABLE"
    )

    # When the rule goes first and the prefix is excluded from immutability
    rule = retention.lifecycle_rule("autopilot-keep-")
    estate.ecr.put_lifecycle_policy(
        repositoryName="legacy/web",
        lifecyclePolicyText=json.dumps({"rules": [rule, {**keep_50, "rulePriority": 2}]}),
    )
    estate.ecr.put_image_tag_mutability(
        repositoryName="legacy/web",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[
            {"filterType": "WILDCARD", "filter": "autopilot-keep-*"}
        ],
    )

    # Then nothing is missing
    report = adopt.adopt(estate.clients, LEGACY, plane(), adopt.Options())
    assert report.retention == {"legacy/web": []}
    assert "repository legacy/web: keeps the protective tags" in "\n".join(adopt.render(report))
