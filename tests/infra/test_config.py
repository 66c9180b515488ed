"""The typed config: the demo file, the policy grammar, and every bad-file case.

A bad file fails with one line naming the file, the field and the problem: checked both
through ``load_config`` and through ``app.py`` itself (exit code 2, no traceback).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra.config import ConfigError, check_policy, load_config
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


@pytest.mark.parametrize(("name", "field", "problem"), BAD_CASES)
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
    ],
)
def test_zone_and_capacity_settings_are_checked(
    tmp_path: Path, old: str, new: str, field: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_demo_with(tmp_path, old, new))
    assert err.value.field == field
    assert problem in str(err.value)
