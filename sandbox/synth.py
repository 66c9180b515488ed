"""Synthesize the real CDK app (or reuse a fresh ``cdk.out``) and read the cloud assembly.

The sandbox deploys exactly what ``cdk synth`` wrote: the templates and the file assets
named by each stack's ``<stack>.assets.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

#: inputs of the synth: a cdk.out newer than all of these is fresh
#: the context key naming the config file (infra/app_builder.py's CONFIG_CONTEXT_KEY; not
#: imported from there, which would load aws_cdk into every CLI command)
CONFIG_CONTEXT = "autopilot:config"
_INPUTS = ("app.py", "cdk.json", "infra", "config", "functions")


class SynthError(RuntimeError):
    """``cdk synth`` failed or wrote no usable cloud assembly."""


@dataclass(frozen=True)
class FileAsset:
    asset_id: str
    path: Path  # absolute path of the asset in cdk.out (a folder or a file)
    packaging: str  # "zip" or "file"
    object_key: str  # key in the bootstrap bucket


@dataclass(frozen=True)
class StackArtifact:
    name: str
    template_file: Path
    assets: list[FileAsset] = field(default_factory=list)
    bootstrap_version_parameter: str | None = None
    #: the stacks this one depends on (by stack name): deployed before it
    dependencies: list[str] = field(default_factory=list)
    #: the artifact's id in manifest.json (the construct id; the stack name may differ)
    artifact_id: str = ""

    @property
    def template(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.template_file.read_text())
        return body


@dataclass(frozen=True)
class CloudAssembly:
    directory: Path
    stacks: list[StackArtifact]

    def stack(self, name: str) -> StackArtifact:
        for s in self.stacks:
            if s.name == name:
                return s
        raise KeyError(name)


def _newest_mtime(paths: list[Path]) -> float:
    newest = 0.0
    for p in paths:
        if p.is_file():
            newest = max(newest, p.stat().st_mtime)
        elif p.is_dir():
            for f in p.rglob("*"):
                if f.is_file() and "__pycache__" not in f.parts:
                    newest = max(newest, f.stat().st_mtime)
    return newest


def is_fresh(out_dir: Path, app_dir: Path = REPO_ROOT, *, extra: Sequence[Path] = ()) -> bool:
    """True when ``out_dir`` holds a manifest newer than every input of the synth (the
    app's sources, and ``extra`` files such as a config file outside them)."""
    manifest = out_dir / "manifest.json"
    if not manifest.is_file():
        return False
    inputs = [app_dir / p for p in _INPUTS] + list(extra)
    return manifest.stat().st_mtime >= _newest_mtime(inputs)


def cdk_env() -> dict[str, str]:
    """Environment for the CDK CLI: Node 24 from the venv first, quiet, no AWS calls."""
    venv_bin = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    env["CDK_CLI_NOTICES"] = "false"
    return env


def synth(
    out_dir: Path | None = None,
    *,
    app_dir: Path = REPO_ROOT,
    config: Path | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> CloudAssembly:
    """Run ``npx cdk synth --quiet -o out_dir`` (with ``-c autopilot:config=<config>`` if
    given; else the config cdk.json names) unless ``out_dir`` is fresh; read the assembly."""
    out_dir = (out_dir or app_dir / "cdk.out").resolve()
    say = progress or (lambda _msg: None)
    if not force and is_fresh(out_dir, app_dir, extra=[config] if config else []):
        say(f"reusing {out_dir.name}/ (newer than the app's sources)")
        return read_assembly(out_dir)
    if not (app_dir / "cdk.json").is_file():
        raise SynthError(f"no cdk.json in {app_dir}: nothing to synthesize")
    say("synthesizing the CDK app (cdk synth)")
    cmd = ["npx", "--no-install", "cdk", "synth", "--quiet", "-o", str(out_dir)]
    if config is not None:
        shown = config.resolve()
        if shown.is_relative_to(app_dir.resolve()):
            shown = shown.relative_to(app_dir.resolve())
        cmd += ["-c", f"{CONFIG_CONTEXT}={shown}"]
    proc = subprocess.run(
        cmd, cwd=app_dir, env=cdk_env(), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        what = f"cdk synth of {config.name}" if config else "cdk synth"
        raise SynthError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return read_assembly(out_dir)


def read_assembly(out_dir: Path) -> CloudAssembly:
    """Read ``manifest.json`` and each stack's ``assets.json`` from a cloud assembly."""
    manifest_file = out_dir / "manifest.json"
    if not manifest_file.is_file():
        raise SynthError(f"{out_dir} holds no manifest.json")
    manifest = json.loads(manifest_file.read_text())
    artifacts: dict[str, Any] = manifest.get("artifacts", {})
    # a dependency names an artifact id; the stack is deployed under its stackName
    names = {
        aid: art.get("properties", {}).get("stackName", aid)
        for aid, art in artifacts.items()
        if art.get("type") == "aws:cloudformation:stack"
    }
    stacks: list[StackArtifact] = []
    for name, art in artifacts.items():
        if art.get("type") != "aws:cloudformation:stack":
            continue
        props = art.get("properties", {})
        assets: list[FileAsset] = []
        for dep in art.get("dependencies", []):
            dep_art = artifacts.get(dep, {})
            if dep_art.get("type") != "cdk:asset-manifest":
                continue
            assets_doc = json.loads((out_dir / dep_art["properties"]["file"]).read_text())
            for asset_id, spec in assets_doc.get("files", {}).items():
                src = spec["source"]
                if "path" not in src:
                    continue  # executable sources: not used by this app
                for dest in spec.get("destinations", {}).values():
                    assets.append(
                        FileAsset(
                            asset_id=asset_id,
                            path=out_dir / src["path"],
                            packaging=src.get("packaging", "file"),
                            object_key=dest["objectKey"],
                        )
                    )
        stacks.append(
            StackArtifact(
                name=props.get("stackName", name),
                template_file=out_dir / props["templateFile"],
                assets=assets,
                bootstrap_version_parameter=props.get("bootstrapStackVersionSsmParameter"),
                dependencies=[names[d] for d in art.get("dependencies", []) if d in names],
                artifact_id=name,
            )
        )
    if not stacks:
        raise SynthError(f"{out_dir} holds no CloudFormation stack")
    return CloudAssembly(directory=out_dir, stacks=_in_dependency_order(stacks))


def _in_dependency_order(stacks: list[StackArtifact]) -> list[StackArtifact]:
    """Every stack after the stacks it depends on (the manifest's order otherwise)."""
    by_name = {s.name: s for s in stacks}
    done: list[StackArtifact] = []
    seen: set[str] = set()

    def visit(s: StackArtifact) -> None:
        if s.name in seen:
            return
        seen.add(s.name)
        for d in s.dependencies:
            if d in by_name:
                visit(by_name[d])
        done.append(s)

    for s in stacks:
        visit(s)
    return done
