#!/usr/bin/env python
"""App entry: reads the environments and their settings from cdktf.json's `context`, builds one
stack per environment and synthesizes them into cdktf.out/.

    python main.py                       # every environment cdktf.json names
    PAYMENTS_STACKS=dev python main.py   # only some (comma list)

A settings mistake prints one line per problem (`env: key: rule, got value`) and fails the run; a
capacity warning (an e-mail subscription a large vendor could push over SNS's e-mail rate) prints
one line (`env: warning: key: message`) and the run goes on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
_NODE = ROOT / "node_modules" / ".bin" / "node"


_NODE_PRELOAD = ROOT / "constructs" / "app" / "provider_import.js"


def prepare_runtime(lazy: bool | None = None) -> None:
    """Run jsii on the project's own supported Node.js (the machine's may be end-of-life) and load
    only the provider submodules the stack uses, on the Python and the Node.js side (see
    constructs/app/provider_import.py). PAYMENTS_LAZY_PROVIDER=0 loads the provider the stock way.
    Must run before anything imports `constructs` or `cdktf` (that starts the Node.js process)."""
    if lazy is None:
        lazy = os.environ.get("PAYMENTS_LAZY_PROVIDER", "1") != "0"
    if "JSII_NODE" not in os.environ and _NODE.exists():
        os.environ["JSII_NODE"] = str(_NODE)
    if lazy:
        preload = f'--require "{_NODE_PRELOAD}"'
        options = os.environ.get("NODE_OPTIONS", "")
        if preload not in options:
            os.environ["NODE_OPTIONS"] = f"{options} {preload}".strip()
    if lazy:
        from constructs.app import provider_import

        provider_import.install()


def build_app(environments: list[str] | None = None, outdir: str | None = None):
    """One stack per environment (default: every one cdktf.json names). Raises SettingsError with
    the problems of every environment before building any stack."""
    prepare_runtime()
    from cdktf import Annotations, App

    from constructs.app import capacity
    from constructs.app.environments import environment_names, load_settings, read_environments
    from constructs.app.settings import SettingsError
    from constructs.app.stack import PaymentPlatformStack

    app = App(outdir=outdir) if outdir else App()
    # as `cdktf synth` hands cdktf.json's context to the app (CDKTF_CONTEXT_JSON), else the file
    configured = read_environments()
    settings, problems = {}, []
    for environment in environments or environment_names(configured):
        try:
            settings[environment] = load_settings(environment, environments=configured)
        except SettingsError as error:
            problems += error.problems
    if problems:
        raise SettingsError(problems)
    for environment, values in settings.items():
        stack = PaymentPlatformStack(app, environment, settings=values)
        for line in capacity.warnings(values):  # the cdktf CLI prints them once, as warnings of the stack
            Annotations.of(stack).add_warning(line)
    return app


def capacity_warnings(app) -> list[str]:
    """`env: warning: key: message` for each stack of `app` (constructs/app/capacity/checks.py, warnings)."""
    from constructs.app import capacity
    from constructs.app.stack import PaymentPlatformStack

    return [f"{stack.node.id}: warning: {line}" for stack in app.node.children
            if isinstance(stack, PaymentPlatformStack) for line in capacity.warnings(stack.settings)]


def report_settings_problems(problems: list[str]) -> int:
    """Each problem once, without a traceback. Under the cdktf CLI (which sets
    CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS) they become error annotations of a stack named after
    their environment, which the CLI prints once and then fails the run; it would print a failing
    app's stderr twice. Run directly, they go to stderr and the exit code is 2."""
    if os.environ.get("CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS") != "true":
        print("\n".join(problems), file=sys.stderr)
        return 2
    from cdktf import Annotations, App, TerraformStack

    app, stacks = App(), {}
    for problem in problems:
        environment, _, text = problem.partition(": ")
        if environment not in stacks:
            stacks[environment] = TerraformStack(app, environment)
            stacks[environment].node.set_context("@cdktf/disable_stack_trace_in_metadata", True)  # no JS stack
        Annotations.of(stacks[environment]).add_error(text)
    app.synth()
    return 0


def main() -> int:
    prepare_runtime()
    from constructs.app.settings import SettingsError

    selected = [e for e in os.environ.get("PAYMENTS_STACKS", "").split(",") if e]
    try:
        app = build_app(selected or None)
    except SettingsError as error:
        return report_settings_problems(error.problems)
    if os.environ.get("CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS") != "true":  # else the CLI prints them
        for line in capacity_warnings(app):
            print(line, file=sys.stderr)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
