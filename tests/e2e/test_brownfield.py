"""The brownfield estate (``sandbox/brownfield.py``): made by plain API calls with no
``autopilot:*`` tag, run by the simulator like the stacks' services, and judged by
`autopilot adopt` through the command line against the session's sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from autopilot import contract

from cli.main import main
from sandbox import brownfield as bf
from sandbox.core import Sandbox
from sandbox.server import Clients, MotoServer


# --------------------------------------------------------------------------- made alone
@pytest.fixture(scope="module")
def alone() -> Iterator[Clients]:
    """A moto server of its own, no stack: the estate as another tool would leave it."""
    server = MotoServer().start()
    try:
        yield Clients(server.endpoint)
    finally:
        server.stop()


def test_the_estate_is_plain_api_calls_and_carries_no_autopilot_tag(alone: Clients) -> None:
    estate = bf.create(alone)

    ecs = alone("ecs")
    described = ecs.describe_services(
        cluster=bf.CLUSTER, services=list(estate.services.values()), include=["TAGS"]
    )["services"]
    by_name = {d["serviceName"]: d for d in described}
    assert set(by_name) == {s.name for s in bf.SERVICES}
    for spec in bf.SERVICES:
        d = by_name[spec.name]
        tags = {t["key"]: t["value"] for t in d.get("tags", [])}
        assert tags == bf.OWNER_TAGS
        assert not any(k.startswith(contract.TAG_PREFIX) for k in tags)
        assert d["deploymentController"]["type"] == spec.controller
        assert d["desiredCount"] == spec.desired
        if spec.controller == "ECS":
            breaker = d["deploymentConfiguration"]["deploymentCircuitBreaker"]
            assert breaker == {"enable": spec.breaker, "rollback": spec.breaker}
            assert [i["capacityProvider"] for i in d["capacityProviderStrategy"]] == ["FARGATE"]
            assert d["availabilityZoneRebalancing"] == "DISABLED"
    (cluster,) = ecs.describe_clusters(clusters=[bf.CLUSTER])["clusters"]
    assert cluster["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    images = alone("ecr").describe_images(repositoryName=bf.SHOP_REPOSITORY)["imageDetails"]
    assert [i["imageTags"] for i in images] == [[bf.FIRST_TAG]]
    roles = {r["Arn"]: r["Path"] for r in alone("iam").list_roles()["Roles"]}
    assert roles[bf.role_arn("shop-task")] == bf.ROLE_PATH
    assert roles[bf.role_arn("reports-admin", "/")] == "/"
    # no stack made any of it (moto's backends are process-wide: other tests' stacks may be
    # there, holding other things)
    cfn = alone("cloudformation")
    made = {bf.CLUSTER, bf.cluster_arn(), *estate.services.values(), *estate.repositories}
    for stack in cfn.describe_stacks()["Stacks"]:
        resources = cfn.list_stack_resources(StackName=stack["StackId"])["StackResourceSummaries"]
        assert not made & {r.get("PhysicalResourceId") for r in resources}
    subnets = alone("ec2").describe_subnets(SubnetIds=list(estate.subnets.values()))["Subnets"]
    assert sorted(s["AvailabilityZone"] for s in subnets) == list(bf.ZONES)


def test_made_again_it_finds_what_is_there(alone: Clients) -> None:
    first = bf.create(alone)
    again = bf.create(alone)

    assert again.services == first.services
    assert again.subnets == first.subnets
    assert len(alone("ecs").list_services(cluster=bf.CLUSTER)["serviceArns"]) == len(bf.SERVICES)


# --------------------------------------------------------------------------- in the sandbox
def test_the_simulator_runs_the_brownfield_services(sandbox: Sandbox) -> None:
    assert sandbox.brownfield is not None
    sim = sandbox.simulator
    assert sim is not None
    assert bf.cluster_arn() in sim.clusters
    ecs = sandbox.clients("ecs")  # type: ignore[misc]
    for spec in bf.SERVICES:
        svc = sim.service(spec.name)
        assert svc.cluster_arn == bf.cluster_arn()
        assert sum(svc.spread().values()) == len(svc.running())
        assert sorted(svc.azs) == list(bf.ZONES)
        arns = ecs.list_tasks(cluster=bf.CLUSTER, serviceName=spec.name)["taskArns"]
        assert len(arns) == len(svc.running()) > 0
        tasks = ecs.describe_tasks(cluster=bf.CLUSTER, tasks=arns)["tasks"]
        assert {t["availabilityZone"] for t in tasks} <= set(bf.ZONES)
    assert sandbox.describe()["brownfield"]["cluster"] == bf.cluster_arn()


def _adopt(capsys: pytest.CaptureFixture[str], sb: Sandbox, *argv: str) -> tuple[int, Any, str]:
    code = main(["adopt", bf.CLUSTER, "--endpoint", sb.endpoint, "--json", *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_adopt_judges_the_brownfield_cluster_through_the_command_line(
    sandbox: Sandbox, demo_results: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ("--managed-clusters", bf.cluster_arn(), "--pass-roles", f"path:{bf.ROLE_PATH}")

    code, doc, err = _adopt(capsys, sandbox, *flags)

    assert code == 0, err
    verdicts = {s["service"]: s for s in doc["services"]}
    for spec in bf.SERVICES:
        got = verdicts[spec.name]
        assert got["verdict"] == spec.verdict, got
        if spec.because:
            assert spec.because in [r["code"] for r in got["reasons"]]


def test_adopt_undo_and_apply_round_trip_on_one_service(
    sandbox: Sandbox, demo_results: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = (
        "--managed-clusters",
        bf.cluster_arn(),
        "--pass-roles",
        f"path:{bf.ROLE_PATH}",
        "--service",
        "promo",
    )
    ecs = sandbox.clients("ecs")  # type: ignore[misc]

    def tags() -> dict[str, str]:
        arn = sandbox.brownfield.services["promo"]  # type: ignore[union-attr]
        return {t["key"]: t["value"] for t in ecs.list_tags_for_resource(resourceArn=arn)["tags"]}

    before = tags()
    code, doc, err = _adopt(capsys, sandbox, *flags, "--undo")
    assert code == 0, err
    assert not any(k.startswith(contract.TAG_PREFIX) for k in tags())

    code, doc, err = _adopt(capsys, sandbox, *flags, "--apply")
    assert code == 0, err
    assert doc["services"][0]["verdict"] == "partial"
    assert tags() == {**bf.OWNER_TAGS, contract.TAG_REBALANCE: "on"}
    assert {k: v for k, v in before.items() if not k.startswith(contract.TAG_PREFIX)} == {
        k: v for k, v in tags().items() if not k.startswith(contract.TAG_PREFIX)
    }


def test_adopt_of_a_missing_cluster_or_service_is_bad_input(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (("adopt", "no-such-cluster"), ("adopt", bf.CLUSTER, "--service", "ghost")):
        code = main([*argv, "--endpoint", sandbox.endpoint, "--managed-clusters", bf.cluster_arn()])
        _out, err = capsys.readouterr()
        assert code == 2, argv
        assert err.startswith("error: ")
        assert err.count("\n") == 1
