"""Load only the parts of the AWS provider bindings that the stack uses.

Why: `import cdktf_cdktf_provider_aws` runs a package `__init__` that imports all ~2,100 resource
submodules and registers each with the jsii runtime: about 17 s here, paid by every synth, every
test run and every `cdktf diff`. The submodules themselves only need the package's `_jsii`
assembly module, so the package object can be created without running its `__init__`.

How: `install()` registers a bare package module for `cdktf_cdktf_provider_aws` whose
`__path__` is the real package folder. Ordinary imports then work unchanged and load only what is
asked for:

    from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue   # loads _jsii + sqs_queue only

Attribute access on the package (`cdktf_cdktf_provider_aws.sqs_queue`) loads the submodule on
first use, like the stock package does eagerly. The synthesized JSON is the same as with the stock
import (tests/test_provider_import.py compares them byte for byte).

Call `install()` before anything imports the provider: main.py and tests/conftest.py do. It is
idempotent, and does nothing if the stock package was already imported.

The Node.js side has the same problem: jsii's `require("@cdktf/provider-aws")` runs an index.js
that requires every resource module (1.9 s). `provider_import.js`, beside this file, is preloaded
into the jsii Node.js process (`NODE_OPTIONS=--require ...`, set by main.prepare_runtime before
the process starts) and turns those requires into getters that load a module on first use.

Measured here (scripts/bench_synth.py): stock import ~12-15 s; `python main.py` for all three
stacks ~4.8 s with the Python half alone, ~3 s with both halves.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

PACKAGE = "cdktf_cdktf_provider_aws"


def install() -> types.ModuleType:
    """Register the lazily loading provider package and return it."""
    existing = sys.modules.get(PACKAGE)
    if existing is not None:
        return existing
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"{PACKAGE} is not installed: run the project's setup (scripts/setup.sh)"
        )
    package = types.ModuleType(PACKAGE, "AWS provider bindings, loaded per submodule on demand")
    package.__spec__ = spec
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__ = spec.origin
    package.__package__ = PACKAGE
    package.__loader__ = spec.loader

    def __getattr__(name: str) -> types.ModuleType:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return importlib.import_module(f"{PACKAGE}.{name}")
        except ModuleNotFoundError as error:
            raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}") from error

    package.__getattr__ = __getattr__  # type: ignore[method-assign]  # PEP 562 module attribute hook
    sys.modules[PACKAGE] = package
    return package


def is_lazy() -> bool:
    """True when the provider package in this process is the lazily loading one."""
    package = sys.modules.get(PACKAGE)
    return package is not None and not hasattr(package, "__all__")
