#!/usr/bin/env python3
"""CDK entry point: read the config file named in context, build the stack, synthesize.

The config file comes from context ``autopilot:config`` (cdk.json; override with
``cdk synth -c autopilot:config=path``). A bad file prints one line naming the file, the
field and the problem, and exits 2. Nothing here calls AWS.
"""

from __future__ import annotations

import sys

from aws_cdk import App

from infra.app_builder import CONFIG_CONTEXT_KEY, DEFAULT_CONFIG, build
from infra.config import ConfigError, load_config


def main() -> int:
    app = App()
    path = app.node.try_get_context(CONFIG_CONTEXT_KEY) or DEFAULT_CONFIG
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    build(app, config)
    try:
        app.synth()
    except RuntimeError as exc:  # jsii surfaces CDK's synth errors as RuntimeError
        if "TooManyResourcesInStack" not in str(exc):
            raise
        print(
            f"error: {path}: services: {len(config.services)} services need more than the "
            "500 resources one CloudFormation stack may hold (about 30 services fit); split "
            "them over several config files, one stack each",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
