"""The operator commands over several managed clusters, against moto: a service named by
name (when unique), ``CLUSTER/NAME`` or ARN, a clear error when a name is in several
clusters; status over every managed cluster; where the managed clusters are found (the
control plane's ``ManagedClusterArns``, else its estate stacks' ``ClusterArn``)."""

from __future__ import annotations

import json

import boto3
import pytest
from autopilot import contract
from autopilot.logic.policy import Floors

from cli import controls as operator
from cli.invoke import InvokeError, control_plane, locate
from cli.main import main
from tests.estate import ACCOUNT, CLUSTER_ARN, REGION, TABLE, Estate

LEGACY_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/legacy"
TAGGED = {contract.TAG_REBALANCE: "on"}


@pytest.fixture
def two(estate: Estate) -> Estate:
    """``web`` in both clusters, ``feed`` in the estate's, ``api`` in ``legacy`` only."""
    estate.service("web", tags=TAGGED)
    estate.service("feed", tags=TAGGED)
    estate.ecs.create_cluster(clusterName="legacy")
    td = estate.task_definition("legacy-app")
    for name in ("web", "api"):
        estate.ecs.create_service(
            cluster="legacy",
            serviceName=name,
            taskDefinition=td,
            desiredCount=1,
            tags=[{"key": contract.TAG_REBALANCE, "value": "on"}],
        )
    estate.reset_counts()
    return estate


def target(estate: Estate) -> operator.Target:
    return operator.Target(
        table=TABLE, cluster_arns=(CLUSTER_ARN, LEGACY_ARN), topic_arn=estate.topic_arn
    )


def arn(cluster: str, name: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{name}"


def test_a_target_of_one_cluster_is_the_target_it_always_was() -> None:
    one = operator.Target(table=TABLE, cluster_arn=CLUSTER_ARN)
    assert one.cluster_arns == (CLUSTER_ARN,)
    assert operator.service_arn(one, "web") == arn("demo-cluster", "web")
    with pytest.raises(ValueError, match="at least one cluster"):
        operator.Target(table=TABLE)


@pytest.mark.parametrize(
    ("named", "expected"),
    [
        ("api", arn("legacy", "api")),
        ("feed", arn("demo-cluster", "feed")),
        ("legacy/web", arn("legacy", "web")),
        (f"{LEGACY_ARN}/web", None),  # a cluster's ARN is no service's
        ("demo-cluster/web", arn("demo-cluster", "web")),
        (arn("legacy", "web"), arn("legacy", "web")),
    ],
)
def test_a_service_by_name_cluster_and_name_or_arn(
    two: Estate, named: str, expected: str | None
) -> None:
    if expected is None:
        with pytest.raises(operator.OperatorError, match="not a service ARN"):
            operator.resolve_service(two.clients, target(two), named)
        return
    assert operator.resolve_service(two.clients, target(two), named).arn == expected


def test_a_name_in_several_clusters_is_ambiguous(two: Estate) -> None:
    with pytest.raises(operator.OperatorError) as raised:
        operator.resolve_service(two.clients, target(two), "web")
    message = str(raised.value)
    assert "several managed clusters (demo-cluster, legacy)" in message
    assert "CLUSTER/web" in message
    with pytest.raises(operator.OperatorError, match="several managed clusters"):
        operator.history(two.clients, target(two), "web")


def test_unknown_and_unmanaged_services_are_clear_errors(two: Estate) -> None:
    with pytest.raises(operator.OperatorError, match="no active service ghost in the managed"):
        operator.resolve_service(two.clients, target(two), "ghost")
    with pytest.raises(operator.OperatorError, match="elsewhere is not a managed cluster"):
        operator.resolve_service(two.clients, target(two), "elsewhere/web")
    with pytest.raises(operator.OperatorError, match="is not in a managed cluster"):
        operator.resolve_service(two.clients, target(two), arn("elsewhere", "web"))


def test_pause_acts_on_the_service_named_and_status_covers_every_cluster(two: Estate) -> None:
    done = operator.pause(two.clients, target(two), "legacy/web", actor="alice", reason="drill")

    assert done.changed
    assert done.service == arn("legacy", "web")
    services = {s["arn"]: s for s in operator.status(two.clients, target(two))}
    assert set(services) == {
        arn("demo-cluster", "web"),
        arn("demo-cluster", "feed"),
        arn("legacy", "web"),
        arn("legacy", "api"),
    }
    assert services[arn("legacy", "web")]["paused"]["reason"] == "drill"
    assert services[arn("demo-cluster", "web")]["paused"] is None
    (row,) = operator.history(two.clients, target(two), "legacy/web")
    assert row["outcome"] == "paused"


def test_status_of_a_managed_cluster_that_does_not_exist_warns_and_shows_the_others(
    two: Estate, capsys: pytest.CaptureFixture[str]
) -> None:
    # the config manages a cluster not made yet (or deleted): status still shows the rest
    gone = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/not-made-yet"
    where = ("--table", TABLE, "--cluster", CLUSTER_ARN, "--cluster", gone)

    code, out, err = run(capsys, "status", *where, "--json")

    assert code == 0, err
    assert {s["service"] for s in json.loads(out)["services"]} == {"web", "feed"}
    assert err == f"warning: managed cluster {gone} does not exist: it has no services to show\n"


def test_history_of_a_service_gone_from_ecs_is_found_in_the_ledger(two: Estate) -> None:
    operator.pause(two.clients, target(two), "api", actor="alice")
    two.ecs.delete_service(cluster="legacy", service="api", force=True)

    rows = operator.history(two.clients, target(two), "api")

    assert [r["outcome"] for r in rows] == ["paused"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_commands_take_several_clusters(
    two: Estate, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ("--table", TABLE, "--cluster", CLUSTER_ARN, "--cluster", LEGACY_ARN)

    code, out, err = run(capsys, "status", *where, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["clusters"] == [CLUSTER_ARN, LEGACY_ARN]
    assert {s["service"] for s in doc["services"]} == {"web", "feed", "api"}

    code, _out, err = run(capsys, "pause", "web", *where)
    assert code == 2
    assert err.count("\n") == 1
    assert "several managed clusters" in err

    code, out, err = run(
        capsys, "pause", "legacy/web", "--table", TABLE, "--cluster", f"{CLUSTER_ARN},{LEGACY_ARN}"
    )
    assert code == 0, err
    assert "web paused by" in out


# --------------------------------------------------------------------------- finding them
def _stack(name: str, outputs: dict[str, str]) -> None:
    cfn = boto3.client("cloudformation", region_name=REGION)
    body = {
        "Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()},
    }
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(body))


@pytest.mark.filterwarnings("ignore:Tried to parse")
def test_the_managed_clusters_come_from_the_control_plane_output(estate: Estate) -> None:
    _stack(
        "EcsAutopilot-t",
        {
            "LedgerTableName": TABLE,
            "NoticesTopicArn": estate.topic_arn,
            "ManagedClusterArns": f"{CLUSTER_ARN},{LEGACY_ARN}",
            "ManagedRepositories": "name:demo/web,prefix:shop/",
            "PassRoles": "path:/shop/",
            "MinScanGate": "high",
            "ManualApprovalClusterArns": LEGACY_ARN,
        },
    )
    _stack("EcsAutopilot-t-estate", {"ClusterArn": "arn:aws:ecs:x:1:cluster/ignored"})

    found = locate(None, stack="EcsAutopilot-t")
    assert found.cluster_arns == (CLUSTER_ARN, LEGACY_ARN)
    assert found.table == TABLE
    # the config's floors, which `autopilot approve` applies as image-events does
    assert found.floors == Floors(min_scan="high", manual_approval_clusters=frozenset({LEGACY_ARN}))

    plane = control_plane(None, stack="EcsAutopilot-t")
    assert plane.clusters == (CLUSTER_ARN, LEGACY_ARN)
    assert str(plane.repositories) == "name:demo/web,prefix:shop/"
    assert str(plane.pass_roles) == "path:/shop/"
    assert plane.source == "stack EcsAutopilot-t"


@pytest.mark.filterwarnings("ignore:Tried to parse")
def test_else_from_the_estate_stacks_cluster_outputs(estate: Estate) -> None:
    _stack("EcsAutopilot-u", {"LedgerTableName": TABLE})
    _stack("EcsAutopilot-u-estate", {"ClusterArn": CLUSTER_ARN})
    _stack("EcsAutopilot-u-services-2", {"ClusterArn": LEGACY_ARN})
    _stack("EcsAutopilot-other", {"ClusterArn": "arn:aws:ecs:x:1:cluster/not-ours"})

    assert locate(None, stack="EcsAutopilot-u").cluster_arns == (CLUSTER_ARN, LEGACY_ARN)
    plane = control_plane(None, stack="EcsAutopilot-u")
    assert plane.clusters == (CLUSTER_ARN, LEGACY_ARN)
    assert plane.pass_roles is None
    assert "repositories: all (the default)" in plane.source

    # explicit flags win; a name is taken in the account and region of an ARN given
    flags = control_plane(
        None, stack="EcsAutopilot-u", managed_clusters_=f"{CLUSTER_ARN},legacy", repositories="*"
    )
    assert flags.clusters == (CLUSTER_ARN, LEGACY_ARN)
    assert flags.source.startswith("--managed-clusters")
    with pytest.raises(InvokeError, match="--repositories"):
        control_plane(None, managed_clusters_=CLUSTER_ARN, repositories="prefix:")
