"""The typed config: the demo file, the policy grammar, and every bad-file case.

A bad file fails with one line naming the file, the field and the problem: every case
through ``load_config``, and one case per stage through ``app.py`` itself (exit code 2, no
traceback).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from infra.config import AutopilotConfig, ConfigError, check_config, check_policy, load_config
from tests.infra.conftest import BAD_CONFIGS, REPO, scrubbed_env

# file, field path, words the problem must contain
BAD_CASES = [
    ("unknown_field.yaml", "services[0].replicas", "unknown field"),
    ("bad_policy.yaml", "services[1].automation.policy", "bad policy 'latest'"),
    ("bad_regex.yaml", "services[2].automation.policy", "does not compile"),
    ("min_gt_max.yaml", "services[1].scaling", "min 9 is greater than max 3"),
    ("min_gt_max_ec2.json", "ec2_capacity", "min_capacity 8 is greater than max_capacity 2"),
    ("tag_on_immutable.yaml", "services[2].automation.policy", "is immutable"),
    ("undeclared_repository.yaml", "services[0].repository", "'demo/frontend' is not declared"),
    ("bad_yaml.yaml", "", "not valid YAML"),
    ("does_not_exist.yaml", "", "no such file"),
    # what the control plane manages
    ("cluster_named_twice.yaml", "manage.clusters[1]", "cluster 'prod' is named twice"),
    ("estate_cluster_named_twice.yaml", "manage.clusters[0]", "the estate's own cluster"),
    ("pass_any_role.yaml", "manage.pass_roles.arns[1]", "would allow passing any role"),
    ("pass_root_path.yaml", "manage.pass_roles.paths[0]", "would allow passing any role"),
    ("empty_prefix.yaml", "manage.repositories.prefixes[1]", "an empty prefix would match"),
    ("no_cluster.yaml", "manage.clusters", "no cluster to manage"),
    ("no_pass_roles.yaml", "manage.pass_roles", "required without an estate"),
    ("services_without_network.yaml", "services", "belongs to an estate"),
    ("uncovered_repository.yaml", "manage.repositories", "does not cover 'team-b/web'"),
    # the guardrails
    (
        "approval_cluster_not_managed.yaml",
        "guardrails.manual_approval_clusters[1]",
        "'staging' is not a managed cluster (managed: prod)",
    ),
    (
        "approval_cluster_other_arn.yaml",
        "guardrails.manual_approval_clusters[0]",
        "is not a managed cluster",
    ),
    ("bad_min_scan.yaml", "guardrails.min_scan", "'critical', 'high' or 'off'"),
    # the reconciler's schedule
    ("reconciler_rate_below_one.yaml", "reconciler.rate_minutes", "greater than or equal to 1"),
    # the reconciler's shards
    ("reconciler_shard_size_zero.yaml", "reconciler.shard_size", "greater than or equal to 1"),
    ("reconciler_api_share_above_one.yaml", "reconciler.api_share", "less than or equal to 1"),
    (
        "reconciler_shard_size_too_large.yaml",
        "reconciler.shard_size",
        "less than or equal to 500",
    ),
    # the protective tags
    ("retention_prefix_collides.yaml", "retention.prefix", "collides with the tag policy"),
    ("retention_bad_prefix.yaml", "retention.prefix", "not an image tag prefix"),
]


def test_demo_config_covers_the_estate(demo_config) -> None:
    # Given the example config the demo uses
    capacities = {s.capacity for s in demo_config.services}
    # Then it has Fargate, a Fargate/Fargate Spot mix and EC2, over 3 AZs and 2+ repositories
    assert capacities == {"fargate", "fargate-spot-mix", "ec2"}
    assert demo_config.network.new_vpc is not None
    assert demo_config.network.new_vpc.max_azs == 3
    assert len(demo_config.repositories) >= 2
    # and the repository of the service following a moving tag is mutable, the others not
    mutable = {r.name: demo_config.is_mutable(r) for r in demo_config.repositories}
    tracked_by_tag = {
        s.repository for s in demo_config.services if s.automation.policy.startswith("tag:")
    }
    assert tracked_by_tag
    assert all(mutable[name] for name in tracked_by_tag)
    assert not all(mutable.values())


@pytest.mark.parametrize(
    "policy",
    [
        "semver",
        "semver:minor",
        "semver:patch",
        "glob:v1.*",
        "regex:^v[0-9]+$",
        "tag:stable",
        "tag:prod-2026.1",
    ],
)
def test_policy_grammar_accepts(policy: str) -> None:
    assert check_policy(policy) == policy


@pytest.mark.parametrize(
    "policy",
    [
        "",
        "latest",
        "semver:major",
        "glob:",
        "regex:",
        "regex:(",
        "regex:(a+)+$",
        "regex:(?:a?){40}a{40}",
        "tag:",
        "tag:bad tag",
        "Semver",
    ],
)
def test_policy_grammar_rejects(policy: str) -> None:
    with pytest.raises(ValueError, match="bad policy"):
        check_policy(policy)


def test_a_pattern_ecs_cannot_hold_in_a_tag_is_written_encoded(tmp_path: Path) -> None:
    # ECS tag values allow letters, digits, spaces and + - = . _ : / @ only
    text = (
        (REPO / "config" / "demo.yaml")
        .read_text()
        .replace('policy: "semver:minor"', 'policy: "glob:v1.*"')
    )
    path = tmp_path / "glob.yaml"
    path.write_text(text)
    automation = load_config(path).services[1].automation
    assert automation.policy == "glob:v1.*"
    assert automation.policy_tag == "glob64:djEuKg"


def test_a_policy_pattern_the_handlers_would_refuse_fails_the_config(tmp_path: Path) -> None:
    text = (
        (REPO / "config" / "demo.yaml")
        .read_text()
        .replace('policy: "semver:minor"', 'policy: "regex:' + "a*" * 120 + '"')
    )
    bad = tmp_path / "long.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert err.value.field == "services[1].automation.policy"
    assert "longer than 100 characters" in str(err.value)


def test_fargate_sizes_are_checked(tmp_path: Path) -> None:
    text = (
        (REPO / "config" / "demo.yaml").read_text().replace("memory_mib: 512", "memory_mib: 4096")
    )
    path = tmp_path / "size.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.field == "services[0]"
    assert "is not a Fargate size" in err.value.problem


def test_bare_on_off_in_yaml_means_the_strings(tmp_path: Path) -> None:
    text = (REPO / "config" / "demo.yaml").read_text().replace('rebalance: "on"', "rebalance: off")
    path = tmp_path / "onoff.yaml"
    path.write_text(text)
    assert load_config(path).services[2].automation.rebalance == "off"


@pytest.mark.parametrize(("name", "field", "problem"), BAD_CASES)
def test_bad_file_names_file_field_and_problem(name: str, field: str, problem: str) -> None:
    path = BAD_CONFIGS / name
    with pytest.raises(ConfigError) as err:
        load_config(path)
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(f"{path}: ")
    assert err.value.field == field
    assert problem in err.value.problem


# app.py turns every ConfigError into the same one line and exit 2; each case's message is
# checked above, in-process. Through a process of its own (about 6 s each: aws_cdk's import),
# one case per stage that can fail: reading the file, parsing it, the model, the checks
# across fields, what the control plane manages, and the protective tags' prefix.
APP_CASES = [
    case
    for case in BAD_CASES
    if case[0]
    in {
        "does_not_exist.yaml",
        "bad_yaml.yaml",
        "unknown_field.yaml",
        "min_gt_max.yaml",
        "cluster_named_twice.yaml",
        "reconciler_shard_size_too_large.yaml",
        "retention_prefix_collides.yaml",
    }
]


@pytest.mark.parametrize(("name", "field", "problem"), APP_CASES)
def test_app_exits_2_with_one_line_and_no_traceback(name: str, field: str, problem: str) -> None:
    # When app.py runs with a bad config file named in context (as `cdk -c` passes it)
    path = BAD_CONFIGS / name
    result = subprocess.run(
        [sys.executable, str(REPO / "app.py")],
        cwd=REPO,
        env=scrubbed_env(CDK_CONTEXT_JSON=f'{{"autopilot:config": "{path}"}}'),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Then it exits 2 and prints one line naming the file, the field and the problem
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert str(path) in lines[0]
    assert f": {field}: " in lines[0] if field else True
    assert problem in lines[0]
    assert result.stdout == ""


# -- zone balance and capacity settings ------------------------------------------------------
def _demo_with(tmp_path: Path, old: str, new: str) -> Path:
    text = (REPO / "config" / "demo.yaml").read_text()
    assert old in text
    path = tmp_path / "variant.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_alarm_prefix_defaults_to_the_environment(tmp_path: Path) -> None:
    path = _demo_with(tmp_path, "  name_prefix: autopilot-\n", "")
    assert load_config(path).alarm_name_prefix == "autopilot-demo-"
    assert load_config(REPO / "config" / "demo.yaml").alarm_name_prefix == "autopilot-"


@pytest.mark.parametrize(
    ("old", "new", "field", "problem"),
    [
        (
            'alarms: {step_out: "+2", step_in: "-1", cooldown_seconds: 1}',
            'alarms: {step_out: "2", step_in: "-1", cooldown_seconds: 1}',
            "services[0].alarms.step_out",
            "is not a step like +1",
        ),
        (
            "cpu_reservation: {high: 80, low: 20}",
            "cpu_reservation: {high: 80, low: 90}",
            "capacity_alarms.cluster.cpu_reservation",
            "low 90.0 must be below high 80.0",
        ),
        (
            "    az_rebalancing: false\n",
            "    az_rebalancing: false\n    placement: binpack\n",
            "services[3]",
            "placement applies to ec2 services only",
        ),
        (
            "  spot_calm_seconds: 5\n",
            "  spot_calm_seconds: -1\n",
            "functions.spot_calm_seconds",
            "greater than or equal to 0",
        ),
        (  # autopilot's pause hook: past ECS's 20,160 minutes
            "  spot_calm_seconds: 5\n",
            "  spot_calm_seconds: 5\n  pause_timeout_minutes: 20161\n",
            "functions.pause_timeout_minutes",
            "less than or equal to 20160",
        ),
    ],
)
def test_zone_and_capacity_settings_are_checked(
    tmp_path: Path, old: str, new: str, field: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_demo_with(tmp_path, old, new))
    assert err.value.field == field
    assert problem in str(err.value)


# -- what the control plane manages ------------------------------------------------------
def _control_plane_only(**manage: object) -> dict[str, object]:
    return {"environment": "brown", "manage": {"pass_roles": {"paths": ["/ecs-tasks/"]}, **manage}}


def _check(data: dict[str, object]) -> AutopilotConfig:
    config = AutopilotConfig.model_validate(data)
    check_config(config, "c.yaml")
    return config


def test_the_demo_manages_its_own_estate_and_the_brownfield_cluster(demo_config) -> None:
    # Given the demo (an estate, and a manage: block naming the sandbox's brownfield
    # cluster), Then the control plane manages the estate's cluster first, then brownfield;
    # the estate's three repositories and the brownfield/ prefix; its own task and execution
    # roles and brownfield's
    assert [c.name for c in demo_config.managed_clusters] == ["demo-cluster", "brownfield"]
    assert str(demo_config.managed_repositories) == (
        "name:demo/web,name:demo/api,name:demo/worker,prefix:brownfield/"
    )
    assert demo_config.pass_roles is not None
    assert demo_config.pass_roles.paths == ["/ecs-autopilot/demo/", "/brownfield/"]


def test_the_example_for_existing_clusters_is_a_control_plane_alone() -> None:
    # Given config/existing.yaml, the README's first example
    config = load_config(REPO / "config" / "existing.yaml")
    check_config(config, "config/existing.yaml")
    # Then it builds no estate, and manages the clusters, repositories and roles it names
    assert not config.has_estate
    assert [(c.name, c.arn) for c in config.managed_clusters] == [
        ("shop", None),
        ("batch", "arn:aws:ecs:eu-west-1:123456789012:cluster/batch"),
    ]
    assert str(config.managed_repositories) == "prefix:shop/,prefix:batch/"
    assert config.pass_roles is not None
    assert config.pass_roles.paths == ["/ecs-tasks/"]
    assert config.operators.role_arns == ["arn:aws:iam::123456789012:role/autopilot-operator"]


def test_existing_clusters_by_name_or_arn_repositories_and_roles() -> None:
    config = _check(
        {
            "environment": "brown",
            "manage": {
                "clusters": ["prod", "arn:aws:ecs:eu-west-1:123456789012:cluster/batch"],
                "repositories": {"names": ["shop/web"], "prefixes": ["team-a/"]},
                "pass_roles": {
                    "arns": ["arn:aws:iam::123456789012:role/shop-*"],
                    "paths": ["/ecs/tasks/"],
                    "tag": {"key": "autopilot:passable", "value": "yes"},
                },
            },
        }
    )
    assert not config.has_estate
    assert [(c.name, c.arn) for c in config.managed_clusters] == [
        ("prod", None),
        ("batch", "arn:aws:ecs:eu-west-1:123456789012:cluster/batch"),
    ]
    assert str(config.managed_repositories) == "name:shop/web,prefix:team-a/"
    # a plain list means names; all means every repository of the account
    assert (
        str(_check(_control_plane_only(clusters=["p"], repositories=["a/b"])).managed_repositories)
        == "name:a/b"
    )
    assert (
        str(_check(_control_plane_only(clusters=["p"], repositories="all")).managed_repositories)
        == "*"
    )
    # without an estate and without repositories: all of them
    assert str(_check(_control_plane_only(clusters=["p"])).managed_repositories) == "*"


def test_an_estate_adds_its_own_roles_to_the_roles_given() -> None:
    data = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    data["manage"] = {"pass_roles": {"paths": ["/shared/"]}}
    roles = _check(data).pass_roles
    assert roles is not None
    assert roles.paths == ["/ecs-autopilot/demo/", "/shared/"]


@pytest.mark.parametrize(
    "arn",
    [
        "*",
        "arn:*",
        "arn:aws:iam::*:role/*",
        "arn:aws:iam::123456789012:role/*",
        "arn:aws:iam::123456789012:role//*",
    ],
)
def test_a_role_arn_that_allows_any_role_is_refused(arn: str) -> None:
    with pytest.raises(ValidationError, match="would allow passing any role"):
        AutopilotConfig.model_validate(
            _control_plane_only(clusters=["p"], pass_roles={"arns": [arn]})
        )


@pytest.mark.parametrize(
    ("pass_roles", "problem"),
    [
        ({"paths": ["/*"]}, "would allow passing any role"),
        ({"paths": ["ecs/"]}, "is not an IAM path prefix"),
        ({"arns": ["arn:aws:iam::*:role/app"]}, "name the account"),
        ({"arns": ["arn:aws:iam::123456789012:user/app"]}, "is not a role ARN"),
        ({"arns": ["arn:aws:iam::123456789012:role/a,b"]}, "is not a role ARN"),
        ({"tag": {"key": "aws:cloudformation:stack-name", "value": "x"}}, "not an IAM tag key"),
        ({"tag": {"key": "team", "value": "a*"}}, "not an IAM tag value"),
        ({}, "give arns, paths or a tag"),
    ],
)
def test_bad_pass_roles_are_refused(pass_roles: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        AutopilotConfig.model_validate(_control_plane_only(clusters=["p"], pass_roles=pass_roles))


@pytest.mark.parametrize(
    ("repositories", "problem"),
    [
        ({"prefixes": [""]}, "an empty prefix would match every repository"),
        ({"names": ["Bad Name"]}, "is not a valid ECR repository name"),
        ({"all": True, "names": ["a/b"]}, "all covers every repository"),
        ({}, "give names or prefixes"),
        ("everything", "expected all, a list of names"),
    ],
)
def test_bad_repositories_are_refused(repositories: object, problem: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        AutopilotConfig.model_validate(
            _control_plane_only(clusters=["p"], repositories=repositories)
        )


@pytest.mark.parametrize(
    ("clusters", "field", "problem"),
    [
        (["prod", "prod"], "manage.clusters[1]", "named twice"),
        (
            [
                "arn:aws:ecs:eu-west-1:123456789012:cluster/a",
                "arn:aws:ecs:eu-west-2:123456789012:cluster/b",
            ],
            "manage.clusters[1]",
            "more than one account or region",
        ),
        # limits AWS sets: a rule's pattern (the clusters' services), an IAM statement
        (
            [f"cluster-{i:03d}-{'x' * 40}" for i in range(60)],
            "manage.clusters",
            "more than EventBridge's 4,096",
        ),
        # 50 clusters: the functions' environment (their ARNs, now beside the admission
        # hook's) passes Lambda's limit before one IAM statement passes IAM's 6,144
        ([f"c{i:02d}" for i in range(50)], "manage.clusters", "more than Lambda's 4,096"),
    ],
)
def test_managed_clusters_are_checked(clusters: list[str], field: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        _check(_control_plane_only(clusters=clusters))
    assert err.value.field == field
    assert problem in err.value.problem


def test_a_cluster_item_must_be_a_name_or_an_arn() -> None:
    with pytest.raises(ValidationError, match="is not an ECS cluster ARN"):
        AutopilotConfig.model_validate(_control_plane_only(clusters=["arn:aws:ecs:x"]))
    with pytest.raises(ValidationError, match="is not an ECS cluster name"):
        AutopilotConfig.model_validate(_control_plane_only(clusters=["bad name"]))


def test_too_many_repository_names_hit_an_aws_limit_and_say_use_prefixes() -> None:
    # Given a list of names whose rules and grants would outgrow what EventBridge and IAM
    # take (a prefix or all would not)
    names = [f"team/service-{i:04d}" for i in range(200)]
    with pytest.raises(ConfigError) as err:
        _check(_control_plane_only(clusters=["p"], repositories={"names": names}))
    assert err.value.field == "manage.repositories"
    assert "by prefix or all (manage.repositories)" in err.value.problem
    # an estate's own repositories are the default (without manage.repositories), and hit
    # the same limit
    data = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    data.pop("manage")
    data["repositories"] = [{"name": n} for n in names]
    data["services"] = []
    with pytest.raises(ConfigError) as err:
        _check(data)
    assert err.value.field == "repositories"
    data["manage"] = {"repositories": {"prefixes": ["team/"]}}
    _check(data)


def test_guardrails_default_to_no_floor_and_a_bare_off_is_the_string(tmp_path: Path) -> None:
    path = tmp_path / "floors.yaml"
    path.write_text(
        "environment: brown\n"
        "manage: {clusters: [prod, arn:aws:ecs:eu-west-1:123456789012:cluster/batch], "
        "pass_roles: {paths: [/ecs-tasks/]}}\n"
        "guardrails: {min_scan: off, manual_approval_clusters: [batch]}\n"
    )
    config = load_config(path)
    assert config.guardrails.min_scan == "off"
    # a cluster named by name in the guardrails is the managed one, with its ARN
    assert [c.arn for c in config.manual_approval_clusters] == [
        "arn:aws:ecs:eu-west-1:123456789012:cluster/batch"
    ]
    assert load_config(REPO / "config" / "demo.yaml").guardrails.min_scan == "off"


def test_no_operator_role_by_default_and_role_arns_as_given(demo_config) -> None:
    # the demo names none: only the functions write its ledger
    assert demo_config.operators.role_arns == []
    given = [
        "arn:aws:iam::123456789012:role/ops/autopilot-operator",
        "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Ops_*",
    ]
    config = _check({**_control_plane_only(clusters=["p"]), "operators": {"role_arns": given}})
    assert config.operators.role_arns == given


@pytest.mark.parametrize(
    ("arn", "problem"),
    [
        ("*", "would let any role of the account write the ledger"),
        ("arn:aws:iam::123456789012:role/*", "would let any role of the account write"),
        ("arn:aws:iam::*:role/ops", "name the account"),
        ("arn:aws:sts::123456789012:assumed-role/ops/alice", "is not a role ARN"),
        ("arn:aws:iam::123456789012:user/alice", "is not a role ARN"),
        ("ops", "is not a role ARN"),
    ],
)
def test_bad_operator_roles_are_refused(arn: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        AutopilotConfig.model_validate(
            {**_control_plane_only(clusters=["p"]), "operators": {"role_arns": [arn]}}
        )


def test_an_estate_policy_that_takes_any_tag_collides_with_the_protective_prefix(
    tmp_path: Path,
) -> None:
    # Given an estate service deploying whatever tag is pushed (glob:*)
    text = (REPO / "config" / "demo.yaml").read_text()
    assert 'policy: "semver:minor"' in text
    path = tmp_path / "any_tag.yaml"
    path.write_text(text.replace('policy: "semver:minor"', 'policy: "glob:*"', 1))
    # Then the protective tags would be taken for releases: the prefix's field is named
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.field == "retention.prefix"
    assert "'glob:*'" in err.value.problem
    assert "autopilot-keep-" in err.value.problem
    # And a policy narrowed to release tags does not collide
    path.write_text(text.replace('policy: "semver:minor"', 'policy: "glob:v*"', 1))
    assert load_config(path).retention.prefix == "autopilot-keep-"
