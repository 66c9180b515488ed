"""Template assertions on the synthesized demo stacks (one synth per session): the control
plane, ``EcsAutopilot-demo``, and the estate, ``EcsAutopilot-demo-estate``."""

from __future__ import annotations

import json
import re
import zipfile
from typing import Any

import pytest
from autopilot import contract
from autopilot.settings import (
    AdmissionSettings,
    CapacityEventsSettings,
    DeploymentEventsSettings,
    ImageEventsSettings,
    ReconcilerSettings,
    TaskEventsSettings,
    env_var_names,
)
from aws_cdk.assertions import Match

from infra import code_asset, layer
from infra.constructs.function import (
    POWERTOOLS_SSM_PREFIX,
    TRACE_DISABLED_ENV,
    installed_powertools_version,
)
from tests.infra.conftest import REPO


def resources(synth, rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synth.template_json["Resources"].items() if v["Type"] == rtype}


def props_of(synth, rtype: str) -> list[dict[str, Any]]:
    return [r.get("Properties", {}) for r in resources(synth, rtype).values()]


def by_name(synth, rtype: str, key: str) -> dict[str, dict[str, Any]]:
    return {p[key]: p for p in props_of(synth, rtype) if key in p}


def logical_id_of(synth, rtype: str, key: str, value: str) -> str:
    return next(
        k for k, v in resources(synth, rtype).items() if v.get("Properties", {}).get(key) == value
    )


# -- shape ---------------------------------------------------------------------------------
def test_stack_names_and_outputs(synth, control, estate) -> None:
    # the demo's five services fit in the estate stack: two stacks, the control plane first
    assert [s.stack_name for s in synth.stacks.all] == [
        "EcsAutopilot-demo",
        "EcsAutopilot-demo-estate",
    ]
    assert control.stack.stack_name == "EcsAutopilot-demo"
    assert {
        "LedgerTableName",
        "NoticesTopicArn",
        "ImageEventsFunctionName",
        "ImageEventsDlqUrl",
        "ImageEventsEventsDlqUrl",
        "DeploymentEventsFunctionName",
        "DeploymentEventsDlqUrl",
        "DeploymentEventsEventsDlqUrl",
        "TaskEventsFunctionName",
        "CapacityEventsFunctionName",
        "DashboardName",
        "ManagedClusterArns",
        "ManagedRepositories",
        "PassRoles",
    } <= set(control.template_json["Outputs"])
    assert {
        "ClusterName",
        "ClusterArn",
        "RegistryUrl",
        "EcrPushPolicyArn",
        "RepositoryUriDemoWeb",
        "RepositoryUriDemoApi",
        "RepositoryUriDemoWorker",
        "LoadBalancerUrlWeb",
    } == set(estate.template_json["Outputs"])


def test_the_control_plane_names_what_it_manages(control) -> None:
    outputs = control.template_json["Outputs"]
    cluster_arn = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":ecs:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":cluster/demo-cluster,arn:",
                {"Ref": "AWS::Partition"},
                ":ecs:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":cluster/brownfield",
            ],
        ]
    }
    # the estate's cluster first, then those config/demo.yaml's manage: block names
    assert outputs["ManagedClusterArns"]["Value"] == cluster_arn
    assert outputs["ManagedRepositories"]["Value"] == (
        "name:demo/web,name:demo/api,name:demo/worker,prefix:brownfield/"
    )
    assert outputs["PassRoles"]["Value"] == "path:/ecs-autopilot/demo/,path:/brownfield/"


def test_the_control_plane_depends_on_no_estate_stack(synth, control, estate) -> None:
    # Given the demo's stacks, When their dependencies are read from the assembly
    manifest = json.loads((synth.outdir / "manifest.json").read_text())["artifacts"]
    stacks = {n for n, a in manifest.items() if a["type"] == "aws:cloudformation:stack"}

    def deps(name: str) -> set[str]:
        return {d for d in manifest[name].get("dependencies", []) if d in stacks}

    # Then the control plane deploys first or alone, and the estate after it
    assert deps("EcsAutopilot-demo") == set()
    assert deps("EcsAutopilot-demo-estate") == {"EcsAutopilot-demo"}
    # and neither refers to the other's outputs: names only
    for view in (control, estate):
        text = json.dumps(view.template_json)
        assert "Fn::ImportValue" not in text
        assert "Fn::GetStackOutput" not in text


def test_env_agnostic_and_few_custom_resources(control, estate) -> None:
    for view in (control, estate):
        # no account id but the pull principal the config names (the Mappings section holds
        # the ELB log-delivery accounts of the regions, looked up at deploy)
        text = json.dumps({k: v for k, v in view.template_json.items() if k != "Mappings"})
        text = text.replace("111122223333", "")
        assert not re.search(r"\b\d{12}\b", text)
        assert "AWS::AccountId" in text
        assert not resources(view, "AWS::DynamoDB::GlobalTable")
        assert not resources(view, "AWS::AutoScaling::LaunchConfiguration")
    custom = [
        r
        for v in (control, estate)
        for r in v.template_json["Resources"].values()
        if r["Type"].startswith("Custom::")
    ]
    # only the default-security-group lockdown of the restrictDefaultSecurityGroup flag
    assert [r["Type"] for r in custom] == ["Custom::VpcRestrictDefaultSG"]


# -- network -------------------------------------------------------------------------------
def test_vpc_spans_three_azs_with_flow_logs(estate) -> None:
    subnets = props_of(estate, "AWS::EC2::Subnet")
    assert len(subnets) == 6
    azs = {json.dumps(s["AvailabilityZone"]) for s in subnets}
    assert len(azs) == 3
    assert all("Fn::GetAZs" in a for a in azs)
    public = [s for s in subnets if s.get("MapPublicIpOnLaunch")]
    assert len(public) == 3
    estate.template.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL"})


# -- registry ------------------------------------------------------------------------------
def test_repositories(estate, demo_config) -> None:
    repos = by_name(estate, "AWS::ECR::Repository", "RepositoryName")
    assert set(repos) == {r.name for r in demo_config.repositories}
    for name, p in repos.items():
        assert p["ImageScanningConfiguration"] == {"ScanOnPush": True}
        assert p["EncryptionConfiguration"] == {"EncryptionType": "AES256"}
        # immutable but for the protective tags, which the reconciler moves
        if name == "demo/worker":
            assert p["ImageTagMutability"] == "MUTABLE", name
            assert "ImageTagMutabilityExclusionFilters" not in p
        else:
            assert p["ImageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION", name
            assert p["ImageTagMutabilityExclusionFilters"] == [
                {
                    "ImageTagMutabilityExclusionFilterType": "WILDCARD",
                    "ImageTagMutabilityExclusionFilterValue": "autopilot-keep-*",
                }
            ]
        rules = json.loads(p["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
        kinds = [(r["selection"]["tagStatus"], r["selection"]["countType"]) for r in rules]
        assert kinds == [
            ("tagged", "imageCountMoreThan"),
            ("untagged", "sinceImagePushed"),
            ("tagged", "imageCountMoreThan"),
        ]
        # first, the rule that keeps every image with a protective tag
        assert rules[0]["rulePriority"] == 1
        assert rules[0]["selection"]["tagPrefixList"] == ["autopilot-keep-"]
        assert rules[0]["selection"]["countNumber"] == 10_000
        assert rules[0]["action"] == {"type": "expire"}
        assert [r["rulePriority"] for r in rules] == [1, 2, 3]
    pull = repos["demo/web"]["RepositoryPolicyText"]["Statement"]
    assert pull[0]["Action"] == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]
    assert "111122223333" in json.dumps(pull[0]["Principal"])
    assert "RepositoryPolicyText" not in repos["demo/api"]


def test_push_policy_is_limited_to_the_repositories(estate) -> None:
    (policy,) = props_of(estate, "AWS::IAM::ManagedPolicy")
    assert policy["ManagedPolicyName"] == "demo-ecr-push"
    statements = policy["PolicyDocument"]["Statement"]
    assert statements[0] == {
        "Action": "ecr:GetAuthorizationToken",
        "Effect": "Allow",
        "Resource": "*",
    }
    assert "ecr:PutImage" in statements[1]["Action"]
    assert len(statements[1]["Resource"]) == 3


# -- cluster -------------------------------------------------------------------------------
def test_cluster_and_capacity_providers(estate) -> None:
    estate.template.has_resource_properties(
        "AWS::ECS::Cluster",
        {
            "ClusterName": "demo-cluster",
            "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}],
        },
    )
    (assoc,) = props_of(estate, "AWS::ECS::ClusterCapacityProviderAssociations")
    providers = assoc["CapacityProviders"]
    assert "FARGATE" in providers
    assert "FARGATE_SPOT" in providers
    (cp,) = props_of(estate, "AWS::ECS::CapacityProvider")
    assert cp["Name"] == "demo-cluster-ec2"
    asg_p = cp["AutoScalingGroupProvider"]
    assert asg_p["ManagedScaling"]["Status"] == "ENABLED"
    assert asg_p["ManagedTerminationProtection"] == "ENABLED"
    assert asg_p["ManagedDraining"] == "ENABLED"


def test_launch_template_hardening(estate) -> None:
    (lt,) = props_of(estate, "AWS::EC2::LaunchTemplate")
    data = lt["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    assert "KeyName" not in data
    params = estate.template_json["Parameters"]
    ami = [p for p in params.values() if "amazon-linux-2023" in str(p.get("Default"))]
    assert ami
    assert (
        ami[0]["Default"] == "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
    )
    # no inbound rule on the instances (SSM Session Manager, not SSH)
    instance_sg = next(
        p
        for p in props_of(estate, "AWS::EC2::SecurityGroup")
        if "container instances" in p["GroupDescription"]
    )
    assert "SecurityGroupIngress" not in instance_sg
    estate.template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "ManagedPolicyArns": Match.array_with(
                [
                    {
                        "Fn::Join": [
                            "",
                            [
                                "arn:",
                                {"Ref": "AWS::Partition"},
                                ":iam::aws:policy/AmazonSSMManagedInstanceCore",
                            ],
                        ]
                    }
                ]
            )
        },
    )


def test_instance_role_holds_only_the_scoped_agent_policy(estate) -> None:
    # Given the instance role (the one with the SSM managed policy)
    role_id = next(
        rid
        for rid, r in resources(estate, "AWS::IAM::Role").items()
        if "container instances" in r["Properties"].get("Description", "")
    )
    # Then exactly one inline policy is attached to it: the agent's, not CDK's default one
    (policy,) = [
        r["Properties"]
        for r in resources(estate, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in r["Properties"].get("Roles", [])
    ]
    statements = policy["PolicyDocument"]["Statement"]
    assert {a for st in statements for a in actions(st)} == {
        "ecs:DeregisterContainerInstance",
        "ecs:RegisterContainerInstance",
        "ecs:Submit*",
        "ecs:Poll",
        "ecs:StartTelemetrySession",
        "ecs:DiscoverPollEndpoint",
        "ecr:GetAuthorizationToken",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    # And the log actions reach this estate's log groups only, never "*"
    (logs_statement,) = [st for st in statements if "logs:PutLogEvents" in actions(st)]
    assert logs_statement["Resource"] != "*"
    assert ":log-group:/ecs/demo/*:log-stream:*" in json.dumps(logs_statement["Resource"])
    star = [st for st in statements if st["Resource"] == "*"]
    assert {a for st in star for a in actions(st)} == {
        "ecs:Poll",
        "ecs:StartTelemetrySession",
        "ecs:DiscoverPollEndpoint",
        "ecr:GetAuthorizationToken",
    }


def test_auto_scaling_group(estate) -> None:
    (asg,) = props_of(estate, "AWS::AutoScaling::AutoScalingGroup")
    assert len(asg["VPCZoneIdentifier"]) == 3
    overrides = asg["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"]
    assert [o["InstanceType"] for o in overrides] == ["m6i.large", "m5.large", "m5a.large"]
    # the control plane's notices topic, by its name (no reference to the other stack)
    (notification,) = asg["NotificationConfigurations"]
    assert notification["TopicARN"] == _arn("sns", "demo-notices")
    assert set(notification["NotificationTypes"]) >= {
        "autoscaling:EC2_INSTANCE_LAUNCH",
        "autoscaling:EC2_INSTANCE_TERMINATE",
    }
    # the group opts in to capacity changes by the control plane for its cluster
    assert {"Key": "autopilot:cluster", "Value": "demo-cluster", "PropagateAtLaunch": False} in asg[
        "Tags"
    ]


def _arn(service: str, resource: str) -> dict[str, Any]:
    """``arn:<partition>:<service>:<region>:<account>:<resource>`` as CDK writes it."""
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                f":{service}:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":{resource}",
            ],
        ]
    }


# -- services ------------------------------------------------------------------------------
def test_services_deploy_safely(estate, demo_config) -> None:
    services = by_name(estate, "AWS::ECS::Service", "ServiceName")
    assert set(services) == {s.name for s in demo_config.services}
    for name, p in services.items():
        # feed: off in the config; batch: spread over instances only, not eligible
        expected = "DISABLED" if name in ("feed", "batch") else "ENABLED"
        assert p["AvailabilityZoneRebalancing"] == expected, name
        dc = p["DeploymentConfiguration"]
        assert dc["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
        assert dc["MinimumHealthyPercent"] == (50 if p["ServiceName"] == "batch" else 100)
        assert dc["MaximumPercent"] == 200
        assert "LaunchType" not in p
    assert services["web"]["CapacityProviderStrategy"] == [
        {"CapacityProvider": "FARGATE", "Weight": 1}
    ]
    assert services["api"]["CapacityProviderStrategy"] == [
        {"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1},
        {"CapacityProvider": "FARGATE_SPOT", "Weight": 3},
    ]
    worker = services["worker"]
    assert worker["PlacementStrategies"][0] == {
        "Type": "spread",
        "Field": "attribute:ecs.availability-zone",
    }
    assert len(worker["CapacityProviderStrategy"]) == 1
    assert services["batch"]["PlacementStrategies"] == [{"Type": "spread", "Field": "instanceId"}]


def test_service_tags_come_from_the_config(estate, demo_config) -> None:
    services = by_name(estate, "AWS::ECS::Service", "ServiceName")
    for svc in demo_config.services:
        tags = {t["Key"]: t["Value"] for t in services[svc.name]["Tags"]}
        assert set(tags) <= set(contract.SERVICE_TAG_KEYS)
        assert tags.get(contract.TAG_REPOSITORY) == svc.repository
        assert tags[contract.TAG_CONTAINER] == svc.container
        assert tags[contract.TAG_POLICY] == svc.automation.policy
        assert tags[contract.TAG_SCAN] == svc.automation.scan
        assert tags[contract.TAG_APPROVAL] == svc.automation.approval
        assert tags[contract.TAG_REBALANCE] == svc.automation.rebalance
        if svc.scaling:
            assert tags[contract.TAG_SCALING] == f"{svc.scaling.min}-{svc.scaling.max}"
        else:
            assert contract.TAG_SCALING not in tags


def test_service_scaling_and_logs(estate, demo_config) -> None:
    targets = props_of(estate, "AWS::ApplicationAutoScaling::ScalableTarget")
    bounds = sorted((t["MinCapacity"], t["MaxCapacity"]) for t in targets)
    assert bounds == sorted(
        (s.scaling.min, s.scaling.max) for s in demo_config.services if s.scaling
    )
    policies = props_of(estate, "AWS::ApplicationAutoScaling::ScalingPolicy")
    assert len(policies) == 3
    for p in policies:
        assert p["PolicyType"] == "TargetTrackingScaling"
        spec = p["TargetTrackingScalingPolicyConfiguration"]
        assert spec["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
            "ECSServiceAverageCPUUtilization"
        )
    groups = by_name(estate, "AWS::Logs::LogGroup", "LogGroupName")
    for svc in demo_config.services:
        assert groups[f"/ecs/demo/{svc.name}"]["RetentionInDays"] == 30
    for td in props_of(estate, "AWS::ECS::TaskDefinition"):
        (container,) = td["ContainerDefinitions"]
        assert container["LogConfiguration"]["LogDriver"] == "awslogs"
        assert td["NetworkMode"] == "awsvpc"


def test_optional_load_balancer(estate) -> None:
    # Given the web service declares a load balancer: an internet-facing ALB with access logs
    (alb,) = props_of(estate, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert alb["Scheme"] == "internet-facing"
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    (tg,) = props_of(estate, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert tg["Port"] == 8080
    assert tg["TargetType"] == "ip"
    assert tg["HealthCheckPath"] == "/healthz"
    (listener,) = props_of(estate, "AWS::ElasticLoadBalancingV2::Listener")
    assert listener["Port"] == 80
    # Then only the load balancer's security group reaches the tasks, on the container port
    web_sg = logical_id_of(
        estate,
        "AWS::EC2::SecurityGroup",
        "GroupDescription",
        "web tasks (no inbound unless a load balancer is added)",
    )
    ingress = [
        p
        for p in props_of(estate, "AWS::EC2::SecurityGroupIngress")
        if p["GroupId"] == {"Fn::GetAtt": [web_sg, "GroupId"]}
    ]
    assert len(ingress) == 1
    assert (ingress[0]["FromPort"], ingress[0]["ToPort"]) == (8080, 8080)
    assert "SourceSecurityGroupId" in ingress[0]
    assert "CidrIp" not in ingress[0]
    services = by_name(estate, "AWS::ECS::Service", "ServiceName")
    assert services["web"]["HealthCheckGracePeriodSeconds"] == 60
    assert not services["api"].get("LoadBalancers")
    (bucket,) = props_of(estate, "AWS::S3::Bucket")
    assert bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert "LoadBalancerUrlWeb" in estate.template_json["Outputs"]


# -- automation ----------------------------------------------------------------------------
FUNCTIONS = {
    contract.IMAGE_EVENTS.name: (contract.IMAGE_EVENTS, ImageEventsSettings),
    contract.DEPLOYMENT_EVENTS.name: (contract.DEPLOYMENT_EVENTS, DeploymentEventsSettings),
    contract.TASK_EVENTS.name: (contract.TASK_EVENTS, TaskEventsSettings),
    contract.CAPACITY_EVENTS.name: (contract.CAPACITY_EVENTS, CapacityEventsSettings),
    contract.RECONCILER.name: (contract.RECONCILER, ReconcilerSettings),
    contract.ADMISSION.name: (contract.ADMISSION, AdmissionSettings),
}
#: the functions that change services (admission only reads them)
DEPLOYERS = sorted(set(FUNCTIONS) - {contract.CAPACITY_EVENTS.name, contract.ADMISSION.name})
#: the functions that register revisions: image-events, and the reconciler through its flow
REGISTERERS = frozenset({contract.IMAGE_EVENTS.name, contract.RECONCILER.name})


def lambdas(synth) -> dict[str, dict[str, Any]]:
    return {
        name.removeprefix("demo-"): p
        for name, p in by_name(synth, "AWS::Lambda::Function", "FunctionName").items()
        if isinstance(name, str)
    }


def test_the_functions_are_wired(control) -> None:
    assert set(lambdas(control)) == set(FUNCTIONS) == set(contract.FUNCTIONS)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_environment_equals_its_settings_model(control, name: str) -> None:
    _spec, model = FUNCTIONS[name]
    env = lambdas(control)[name]["Environment"]["Variables"]
    # ... and the tracing switch autopilot/observability.py reads (test_functions_runtime.py)
    assert set(env) == env_var_names(model) | {TRACE_DISABLED_ENV}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_runtime_layer_tracing_logs_and_dlq(control, name: str) -> None:
    spec, _model = FUNCTIONS[name]
    fn = lambdas(control)[name]
    assert fn["Handler"] == spec.handler
    assert fn["Runtime"] == "python3.13"
    assert fn["Architectures"] == ["arm64"]
    assert fn["TracingConfig"] == {"Mode": "Active"}
    # the layer of exactly the Powertools version the tests run with, resolved from AWS's
    # public SSM parameter at deploy time
    ((_, ref),) = fn["Layers"][0].items()
    parameter = control.template_json["Parameters"][ref]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == POWERTOOLS_SSM_PREFIX + installed_powertools_version()
    log_group = fn["LoggingConfig"]["LogGroup"]
    groups = by_name(control, "AWS::Logs::LogGroup", "LogGroupName")
    assert groups[f"/aws/lambda/demo-{name}"]["RetentionInDays"] == 30
    assert "Ref" in log_group
    assert "Fn::GetAtt" in json.dumps(fn["DeadLetterConfig"])
    function_id = logical_id_of(control, "AWS::Lambda::Function", "FunctionName", f"demo-{name}")
    control.template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {"FunctionName": {"Ref": function_id}, "MaximumRetryAttempts": 2},
    )


def test_code_asset_is_the_functions_folder_with_its_bytecode(control) -> None:
    """The functions' one code asset is code_asset's zip: ``functions/``'s sources (no
    ``__pycache__`` of this machine) and, compiled here for python3.13, their bytecode."""
    assets = json.loads((control.outdir / "EcsAutopilot-demo.assets.json").read_text())["files"]
    paths = {control.outdir / a["source"]["path"] for a in assets.values()}
    zips = [p for p in paths if p.is_file() and zipfile.is_zipfile(p)]
    code = [p for p in zips if "autopilot/contract.py" in zipfile.ZipFile(p).namelist()]
    assert len(code) == 1
    (staged,) = code
    names = zipfile.ZipFile(staged).namelist()
    functions = REPO / "functions"
    shipped = sorted(p.relative_to(functions).as_posix() for p in code_asset.sources(functions))
    assert sorted(n for n in names if "/__pycache__/" not in n) == shipped
    assert {n.split("/")[0] for n in names} == {
        p.name for p in functions.iterdir() if p.name not in code_asset.EXCLUDED_DIRS
    }
    compiled = [n for n in names if n.endswith(".pyc")]
    if layer.runtime_python():
        assert compiled
        assert all(n.endswith(".cpython-313.pyc") for n in compiled)
        assert len(compiled) == sum(1 for n in shipped if n.endswith(".py"))
    else:
        assert not compiled


def rule_patterns(synth) -> dict[str, dict[str, Any]]:
    return {p["Name"]: p for p in props_of(synth, "AWS::Events::Rule")}


def test_rules_use_the_contract_patterns(control) -> None:
    rules = rule_patterns(control)
    assert set(rules) == {
        "demo-ecr-image-action",
        "demo-ecr-image-scan",
        "demo-inspector2-scan",
        "demo-inspector2-finding",
        "demo-ecs-deployment",
        "demo-ecs-hook",
        "demo-ecs-task",
        "demo-scaling-alarms",
        "demo-ecs-service-action",
        "demo-spot-warning",
        "demo-task-recheck",
        "demo-reconcile",
        "demo-reconcile-shard",
    }
    # every pattern is the contract's, for this account and region, the managed clusters
    # (the estate's and brownfield, by name) and the managed repositories (the estate's, by
    # name, and the brownfield/ prefix)
    patterns = {
        name: pseudo(rule["EventPattern"])
        for name, rule in rules.items()
        if name not in {"demo-task-recheck", "demo-reconcile"}
    }
    here = ("${AWS::AccountId}", "${AWS::Region}")
    cluster_arn = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:cluster/"
    clusters = [cluster_arn + "demo-cluster", cluster_arn + "brownfield"]
    repos = contract.RepositoryFilter(
        names=("demo/web", "demo/api", "demo/worker"), prefixes=("brownfield/",)
    )
    repo_arns = "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/"
    assert patterns["demo-ecs-task"] == contract.ecs_task_pattern(*here, clusters)
    assert patterns["demo-ecs-service-action"] == contract.ecs_placement_failure_pattern(
        *here, clusters
    )
    # the demo config's alarm prefix (autopilot-) is the sample alarm events' prefix too
    assert patterns["demo-scaling-alarms"] == contract.alarm_pattern(*here, "autopilot-")
    assert patterns["demo-spot-warning"] == contract.spot_warning_pattern(*here)
    assert patterns["demo-reconcile-shard"] == contract.reconcile_shard_pattern(*here)
    assert patterns["demo-ecr-image-action"] == contract.ecr_image_action_pattern(*here, repos)
    assert patterns["demo-ecr-image-scan"] == contract.ecr_image_scan_pattern(*here, repos)
    assert patterns["demo-inspector2-scan"] == contract.inspector2_scan_pattern(
        *here, repos, repo_arns
    )
    # a finding names its image only in resources (<repository ARN>/sha256:<digest>): each
    # managed name ends at /sha256:, so demo/web never takes demo/web-old's findings
    finding = patterns["demo-inspector2-finding"]
    assert finding == contract.inspector2_finding_pattern(*here, repos, repo_arns)
    assert finding["detail-type"] == ["Inspector2 Finding"]
    assert finding["account"] == ["${AWS::AccountId}"]
    assert finding["region"] == ["${AWS::Region}"]
    assert finding["resources"] == [
        {"prefix": repo_arns + "demo/web/sha256:"},
        {"prefix": repo_arns + "demo/api/sha256:"},
        {"prefix": repo_arns + "demo/worker/sha256:"},
        {"prefix": repo_arns + "brownfield/"},
    ]
    deploy = patterns["demo-ecs-deployment"]
    assert deploy == contract.ecs_deployment_pattern(*here, clusters)
    assert [r["prefix"].rsplit(":", 1)[1] for r in deploy["resources"]] == [
        "service/demo-cluster/",
        "service/brownfield/",
    ]
    # PAUSE hooks' state changes name the cluster in detail (one sample has no resources)
    hook = patterns["demo-ecs-hook"]
    assert hook == contract.ecs_hook_pattern(*here, clusters)
    assert hook["detail"] == {"clusterArn": clusters, "hookType": ["PAUSE"]}
    # no rule of the control plane names a resource of the estate stack
    assert "Fn::GetAtt" not in json.dumps(
        [r["EventPattern"] for n, r in rules.items() if "EventPattern" in r]
    )


def pseudo(value: Any) -> Any:
    """A template value with ``Ref``s to pseudo parameters written ``${AWS::...}`` and
    ``Fn::Join``s joined (what the contract's builders give for the same placeholders)."""
    if isinstance(value, list):
        return [pseudo(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Ref"} and str(value["Ref"]).startswith("AWS::"):
            return "${" + value["Ref"] + "}"
        if set(value) == {"Fn::Join"}:
            sep, parts = value["Fn::Join"]
            return sep.join(str(pseudo(p)) for p in parts)
        return {k: pseudo(v) for k, v in value.items()}
    return value


def test_the_recheck_rule_is_a_schedule_targeting_task_events(control) -> None:
    # the trailing edge of task-events' debounce: a schedule rule, no event pattern
    rule = rule_patterns(control)["demo-task-recheck"]
    assert rule["ScheduleExpression"] == contract.recheck_schedule(1) == "rate(1 minute)"
    assert "EventPattern" not in rule
    assert rule["State"] == "ENABLED"
    (target,) = rule["Targets"]
    task_events = logical_id_of(
        control, "AWS::Lambda::Function", "FunctionName", "demo-task-events"
    )
    assert target["Arn"] == {"Fn::GetAtt": [task_events, "Arn"]}
    assert contract.recheck_schedule(5) == "rate(5 minutes)"


def test_the_reconciler_sweeps_on_a_schedule_with_image_events_grants(control) -> None:
    # the config's reconciler.rate_minutes (default 5): a schedule rule, no event pattern
    rule = rule_patterns(control)["demo-reconcile"]
    assert rule["ScheduleExpression"] == contract.reconcile_schedule(5) == "rate(5 minutes)"
    assert "EventPattern" not in rule
    (target,) = rule["Targets"]
    fn = logical_id_of(control, "AWS::Lambda::Function", "FunctionName", "demo-reconciler")
    assert target["Arn"] == {"Fn::GetAtt": [fn, "Arn"]}
    assert contract.reconcile_schedule(1) == "rate(1 minute)"
    with pytest.raises(ValueError, match="at least one minute"):
        contract.reconcile_schedule(0)

    # and it may do exactly what image-events does (it deploys through the same flow), and
    # move its protective tags
    def actions(function: str) -> set[tuple[str, str]]:
        out: set[tuple[str, str]] = set()
        for policy in props_of(control, "AWS::IAM::Policy"):
            roles = json.dumps(policy["Roles"])
            if function not in roles:
                continue
            for st in policy["PolicyDocument"]["Statement"]:
                acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                out |= {(st["Effect"], a) for a in acts}
        return out

    image_role = logical_id_of(
        control, "AWS::IAM::Role", "Description", "demo-image-events: least privilege"
    )
    sweep_role = logical_id_of(
        control, "AWS::IAM::Role", "Description", "demo-reconciler: least privilege"
    )
    # and, for its fan-out, puts its own shard events on the default bus; for the
    # protective tags, moves and removes tags under the reserved prefix
    retention = {
        ("Allow", "ecr:PutImage"),
        ("Allow", "ecr:BatchDeleteImage"),
        ("Allow", "ecr:DescribeRepositories"),
    }
    assert actions(sweep_role) == actions(image_role) | {("Allow", "events:PutEvents")} | retention
    assert ("Allow", "ecs:RegisterTaskDefinition") in actions(sweep_role)
    assert ("Allow", "ecs:UpdateService") in actions(sweep_role)
    (put,) = [
        st
        for policy in props_of(control, "AWS::IAM::Policy")
        if sweep_role in json.dumps(policy["Roles"])
        for st in policy["PolicyDocument"]["Statement"]
        if st["Action"] == "events:PutEvents"
    ]
    assert pseudo(put["Resource"]) == (
        "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"
    )
    assert put["Condition"] == {
        "StringEquals": {"events:source": "ecs-autopilot", "events:detail-type": "Reconcile Shard"}
    }
    # the shard rule brings them back to the reconciler (its retries and DLQ: below)
    (target,) = rule_patterns(control)["demo-reconcile-shard"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [fn, "Arn"]}


def test_rule_targets_retry_and_dead_letter(control) -> None:
    for name, rule in rule_patterns(control).items():
        (target,) = rule["Targets"]
        assert target["RetryPolicy"] == {
            "MaximumEventAgeInSeconds": 7200,
            "MaximumRetryAttempts": 8,
        }, name
        assert "Fn::GetAtt" in json.dumps(target["DeadLetterConfig"]), name


def test_queues_are_encrypted_and_ssl_only(control) -> None:
    queues = by_name(control, "AWS::SQS::Queue", "QueueName")
    assert set(queues) == {
        f"demo-{fn}-{kind}" for fn in FUNCTIONS for kind in ("dlq", "events-dlq")
    }
    for q in queues.values():
        assert q["SqsManagedSseEnabled"] is True
    policies = props_of(control, "AWS::SQS::QueuePolicy")
    denies = [
        s for p in policies for s in p["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
    ]
    assert len(denies) == 2 * len(FUNCTIONS)
    assert all(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_ledger_table(control) -> None:
    control.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": "demo-ledger",
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        },
    )


def test_the_ledger_and_the_functions_keep_their_logical_ids(control) -> None:
    # To CloudFormation a new logical ID is a new resource: it would create a second table
    # or function of the same name and delete the old one. Restructuring the constructs
    # must not move these.
    assert logical_id_of(control, "AWS::DynamoDB::Table", "TableName", "demo-ledger") == (
        "AutomationLedgerE30973CA"
    )
    functions = {
        name: logical_id_of(control, "AWS::Lambda::Function", "FunctionName", f"demo-{name}")
        for name in FUNCTIONS
    }
    assert functions == {
        "image-events": "AutomationImageEventsFunctionD5876548",
        "deployment-events": "AutomationDeploymentEventsFunctionA90A534D",
        "task-events": "AutomationTaskEventsFunctionC3D09486",
        "capacity-events": "AutomationCapacityEventsFunction1D080919",
        "reconciler": "AutomationReconcilerFunction2AC3E7CD",
        "admission": "AutomationAdmissionFunction4781F1C0",
    }


def test_notices_topic_is_encrypted_with_a_rotated_key(control) -> None:
    key_id = next(iter(resources(control, "AWS::KMS::Key")))
    control.template.has_resource_properties(
        "AWS::SNS::Topic",
        {"TopicName": "demo-notices", "KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}},
    )
    control.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def statements_of(synth, name: str) -> list[dict[str, Any]]:
    fn = lambdas(synth)[name]
    role_id = fn["Role"]["Fn::GetAtt"][0]
    out = []
    for p in props_of(synth, "AWS::IAM::Policy"):
        if {"Ref": role_id} in p["Roles"]:
            out += p["PolicyDocument"]["Statement"]
    return out


def actions(statement: dict[str, Any]) -> list[str]:
    a = statement["Action"]
    return a if isinstance(a, list) else [a]


MANAGED_REPOSITORY = {
    "StringLike": {
        "aws:ResourceTag/autopilot:repository": [
            "demo/web",
            "demo/api",
            "demo/worker",
            "brownfield/*",
        ]
    }
}
HERE = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}"
#: The services of the managed clusters: the estate's and brownfield (config/demo.yaml)
MANAGED_SERVICES = [f"{HERE}:service/brownfield/*", f"{HERE}:service/demo-cluster/*"]


def _assert_registers_and_passes_roles(by_action: dict[str, Any], control, estate) -> None:
    """image-events: revisions on this account and region's task definitions (the families
    are the owners'), tags on creation only, and the services' task and execution roles."""
    for action in ("ecs:DeregisterTaskDefinition", "tag:GetResources"):
        assert by_action[action]["Resource"] == "*"
    assert (
        pseudo(by_action["ecs:RegisterTaskDefinition"]["Resource"]) == f"{HERE}:task-definition/*"
    )
    assert "Condition" not in by_action["ecs:RegisterTaskDefinition"]
    assert by_action["ecs:TagResource"]["Condition"] == {
        "StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}
    }
    # PassRole: only the services' task and execution roles, only to ECS tasks
    pass_role = by_action["iam:PassRole"]
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    # the roles under the estate's IAM path (the 10 task and execution roles: 5 services x
    # 2) and under the path the config names, no other role
    assert pseudo(pass_role["Resource"]) == [
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/brownfield/*",
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/ecs-autopilot/demo/*",
    ]
    under_path = [
        lid
        for lid, r in resources(estate, "AWS::IAM::Role").items()
        if r["Properties"].get("Path") == "/ecs-autopilot/demo/"
    ]
    assert len(under_path) == 10
    assert all("TaskDefinition" in lid for lid in under_path)
    assert not [
        r for r in resources(control, "AWS::IAM::Role").values() if "Path" in r["Properties"]
    ]


@pytest.mark.parametrize("name", DEPLOYERS)
def test_function_iam_is_least_privilege(control, estate, name: str) -> None:
    everything = statements_of(control, name)
    assert all("*" not in a for s in everything for a in actions(s))
    # the one Deny: image-events' privileged revisions (test_no_privileged_revision)
    denies = [s for s in everything if s["Effect"] != "Allow"]
    assert len(denies) == (name in REGISTERERS)
    # (the PassRole of the admission hook's role, to ECS itself: test_admission_wiring.py)
    hook_role = {"StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}}
    statements = [
        s for s in everything if s["Effect"] == "Allow" and s.get("Condition") != hook_role
    ]
    by_action = {a: s for s in statements for a in actions(s)}
    # service actions: the managed clusters' services only
    for action in ("ecs:UpdateService", "ecs:DescribeServices"):
        assert pseudo(by_action[action]["Resource"]) == MANAGED_SERVICES
    # image deploys and rollbacks: only services tracking a managed repository (task-events
    # also turns AZ rebalancing on, on any service of the managed clusters)
    updates = [st for st in statements if "ecs:UpdateService" in actions(st)]
    if name == contract.TASK_EVENTS.name:
        assert [st.get("Condition") for st in updates] == [None]
    else:
        assert [st.get("Condition") for st in updates] == [MANAGED_REPOSITORY]
    # no resource-level scope exists for these; only image-events registers revisions, on
    # this account and region's task definitions (the families are the owners')
    registers = name in REGISTERERS
    register_actions = {
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "tag:GetResources",
        "ecs:TagResource",
        "iam:PassRole",
    }
    assert by_action["ecs:DescribeTaskDefinition"]["Resource"] == "*"
    if registers:
        _assert_registers_and_passes_roles(by_action, control, estate)
    else:
        # a rollback is UpdateService to an existing revision: it passes no role
        assert register_actions.isdisjoint(by_action)
    # ECR: tags, push times, scan verdicts and index manifests of candidate images,
    # image-events only, on the managed repositories
    ecr_reads = ("ecr:DescribeImages", "ecr:DescribeImageScanFindings", "ecr:BatchGetImage")
    if name in REGISTERERS:
        for action in ecr_reads:
            assert len(by_action[action]["Resource"]) == 4  # 3 names, 1 prefix
    else:
        assert not set(ecr_reads) & set(by_action)
    # the protective tags: the reconciler only, on the managed repositories
    retention_calls = ("ecr:PutImage", "ecr:BatchDeleteImage", "ecr:DescribeRepositories")
    if name == contract.RECONCILER.name:
        for action in retention_calls:
            assert len(by_action[action]["Resource"]) == 4  # 3 names, 1 prefix
    else:
        assert not set(retention_calls) & set(by_action)
    # the ledger: item calls only
    assert {"dynamodb:Scan", "dynamodb:BatchWriteItem"}.isdisjoint(by_action)
    assert "sns:Publish" in by_action
    assert "dynamodb:PutItem" in by_action
    assert {"kms:Decrypt", "kms:GenerateDataKey"} <= set(by_action)


@pytest.mark.parametrize("name", DEPLOYERS)
def test_no_privileged_revision(control, name: str) -> None:
    # Given the functions' policies, When image-events registers a revision with a
    # privileged container (ecs:privileged, a request key of RegisterTaskDefinition), Then
    # an explicit Deny refuses it whatever else allows it; no other function registers
    denies = [s for s in statements_of(control, name) if s["Effect"] == "Deny"]
    if name not in REGISTERERS:
        assert denies == []
        return
    assert len(denies) == 1
    (deny,) = denies
    assert actions(deny) == ["ecs:RegisterTaskDefinition"]
    assert deny["Condition"] == {"StringEquals": {"ecs:privileged": "true"}}
    # on every revision the Allow covers
    assert pseudo(deny["Resource"]) == f"{HERE}:task-definition/*"


def _resource_text(statement: dict[str, Any]) -> str:
    return json.dumps(statement.get("Resource"))


ASG_OF_A_MANAGED_CLUSTER = {
    "StringEquals": {"aws:ResourceTag/autopilot:cluster": ["demo-cluster", "brownfield"]}
}


def test_task_events_iam_zone_balance(control) -> None:
    by_action = {a: s for s in statements_of(control, "task-events") for a in actions(s)}
    cluster_condition = by_action["ecs:StopTask"]["Condition"]["ArnEquals"]["ecs:cluster"]
    assert cluster_condition == [
        _arn("ecs", "cluster/demo-cluster"),
        _arn("ecs", "cluster/brownfield"),
    ]
    assert pseudo(by_action["ecs:StopTask"]["Resource"]) == [
        f"{HERE}:task/brownfield/*",
        f"{HERE}:task/demo-cluster/*",
    ]
    # the crash read (DescribeTasks, before a stop counts) is held to the managed clusters'
    # tasks and the ecs:cluster condition as StopTask is: one statement
    assert by_action["ecs:DescribeTasks"] is by_action["ecs:StopTask"]
    assert by_action["ecs:ListTasks"]["Resource"] == "*"
    assert by_action["ecs:ListTasks"]["Condition"]["ArnEquals"]["ecs:cluster"] == cluster_condition
    assert "container-instance/demo-cluster/*" in _resource_text(
        by_action["ecs:DescribeContainerInstances"]
    )
    # the managed clusters' Auto Scaling groups: any group tagged autopilot:cluster with the
    # name of a managed cluster (the estate tags its own group so)
    for action in ("autoscaling:SetDesiredCapacity", "autoscaling:UpdateAutoScalingGroup"):
        text = _resource_text(by_action[action])
        assert "autoScalingGroupName/" in text
        assert by_action[action]["Resource"] == _arn(
            "autoscaling", "autoScalingGroup:*:autoScalingGroupName/*"
        )
        assert by_action[action]["Condition"] == ASG_OF_A_MANAGED_CLUSTER
    assert "capacity-provider/" in _resource_text(by_action["ecs:DescribeCapacityProviders"])
    assert by_action["ec2:DescribeSubnets"]["Resource"] == "*"
    # the shared rollback path (deployment-events') needs what it needs, and no PassRole:
    # UpdateService to an existing revision passes no role
    assert {"ecs:UpdateService", "ecs:DescribeTaskDefinition"} <= set(by_action)
    assert "iam:PassRole" not in by_action


def test_capacity_events_iam(control) -> None:
    statements = statements_of(control, "capacity-events")
    assert all("*" not in a for s in statements for a in actions(s))
    by_action = {a: s for s in statements for a in actions(s)}
    for action in ("ecs:UpdateService", "ecs:DescribeServices", "ecs:ListTagsForResource"):
        assert pseudo(by_action[action]["Resource"]) == MANAGED_SERVICES
    assert _resource_text(by_action["cloudwatch:ListTagsForResource"]).endswith(
        '":alarm:autopilot-*"]]}'
    )
    # the alarm's state now: composite alarms are answered only to DescribeAlarms on "*"
    assert by_action["cloudwatch:DescribeAlarms"]["Resource"] == "*"
    register = by_action["application-autoscaling:RegisterScalableTarget"]
    assert _resource_text(register).endswith('":scalable-target/*"]]}')
    assert register["Condition"] == {
        "StringEquals": {
            "application-autoscaling:service-namespace": "ecs",
            "application-autoscaling:scalable-dimension": "ecs:service:DesiredCount",
        }
    }
    assert by_action["autoscaling:SetDesiredCapacity"]["Condition"] == ASG_OF_A_MANAGED_CLUSTER
    # it registers no task definition, passes no role and reads no image
    assert not {"ecs:RegisterTaskDefinition", "iam:PassRole", "ecr:DescribeImages"} & set(by_action)
    assert "ecs:StopTask" not in by_action


def test_scaling_alarms_are_tagged_for_capacity_events(estate, demo_config) -> None:
    alarms = by_name(estate, "AWS::CloudWatch::Alarm", "AlarmName")
    scaling = {n: a for n, a in alarms.items() if n.startswith("autopilot-")}
    expected = {
        f"autopilot-cluster-{m}-reservation-{lvl}"
        for m in ("cpu", "memory")
        for lvl in ("high", "low")
    } | {
        f"autopilot-{s.name}-{m}-{lvl}"
        for s in demo_config.services
        if s.alarms
        for m in ("cpu", "memory")
        for lvl in ("high", "low")
    }
    assert set(scaling) == expected
    for name, alarm in scaling.items():
        tags = {t["Key"]: t["Value"] for t in alarm["Tags"]}
        assert set(tags) == set(contract.ALARM_TAG_KEYS), name
        assert tags[contract.TAG_STEP].startswith("+" if name.endswith("-high") else "-")
        assert "AlarmActions" not in alarm  # they reach capacity-events through EventBridge
        assert alarm["Namespace"] == "AWS/ECS"
    web_tags = {t["Key"]: t["Value"] for t in scaling["autopilot-web-cpu-high"]["Tags"]}
    # the service's ARN: with a control plane over several clusters, a bare name is refused
    assert _joined(web_tags[contract.TAG_TARGET]) == (
        "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/demo-cluster/web"
    )
    assert web_tags == {
        contract.TAG_TARGET: web_tags[contract.TAG_TARGET],
        contract.TAG_STEP: "+2",
        contract.TAG_COOLDOWN: "1",
    }
    cluster_tags = {
        t["Key"]: t["Value"] for t in scaling["autopilot-cluster-cpu-reservation-high"]["Tags"]
    }
    assert cluster_tags[contract.TAG_TARGET] == "capacity-provider:demo-cluster-ec2"


def _joined(value: object) -> str:
    """An ``Fn::Join`` of literals and ``Ref``s as one string, each Ref as ``${Name}``."""
    assert isinstance(value, dict)
    separator, parts = value["Fn::Join"]
    return separator.join(p if isinstance(p, str) else "${" + p["Ref"] + "}" for p in parts)


def test_alarms_and_dashboard(control) -> None:
    alarms = {
        n: a
        for n, a in by_name(control, "AWS::CloudWatch::Alarm", "AlarmName").items()
        if n.startswith("demo-ops-")
    }
    expected = {
        f"demo-ops-{fn}-{what}"
        for fn in FUNCTIONS
        for what in ("errors", "throttles", "dlq-depth", "events-dlq-depth")
    }
    assert set(alarms) == expected
    topic_id = logical_id_of(control, "AWS::SNS::Topic", "TopicName", "demo-notices")
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    metrics = {a["MetricName"] for a in alarms.values()}
    assert metrics == {"Errors", "Throttles", "ApproximateNumberOfMessagesVisible"}
    (dashboard,) = props_of(control, "AWS::CloudWatch::Dashboard")
    assert dashboard["DashboardName"] == "demo-autopilot"
