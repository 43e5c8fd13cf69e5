"""Suite-wide setup (the repository is an import root through pytest.ini's `pythonpath`, so
`constructs/` merges into the constructs library): jsii on the project's Node.js, the lazily loading provider bindings, and Terraform on the
provider mirror. Shared fixtures synthesize each stack once per session."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from support import ROOT

_node = ROOT / "node_modules" / ".bin" / "node"
if _node.exists():
    os.environ.setdefault("JSII_NODE", str(_node))
os.environ["CHECKPOINT_DISABLE"] = "1"
if Path("/opt/tf-plugins").is_dir():
    os.environ["TF_CLI_CONFIG_FILE"] = str(ROOT / "terraform.rc")

import main  # noqa: E402  (after the environment above)

main.prepare_runtime()


def _one_botocore_loader() -> None:
    """moto's mock gives every test a new boto3 default session, and a new session parses again
    each JSON service model and endpoint ruleset its clients use (~40 % of the CPU of the handler
    tests). One loader for the test process parses each once and shares it, as the sessions of a
    long-lived process would; the models are read-only to botocore."""
    import functools

    import botocore.session

    if not hasattr(botocore.session.create_loader, "cache_info"):
        botocore.session.create_loader = functools.lru_cache(maxsize=None)(botocore.session.create_loader)


_one_botocore_loader()


def _one_moto() -> None:
    """Every test sees the emulator's moto (scripts/local/emulator/patches.py: the AWS behaviours
    moto 5.2 lacks, its quadratic queue counts made linear). Applied when the local runner starts,
    they would otherwise hold only for the tests a process runs after it: a test's moto would
    depend on which process took its module. Also the reason a FIFO queue a few hundred deep is
    not a minute of CPU in the reconciler's and the delivery tests."""
    from scripts.local.emulator.patches import extend_moto

    extend_moto()


_one_moto()


def _runner_namespace(name: str) -> bool:
    """The modules the local runner loads fresh for its functions (scripts/local_runner/functions.py)."""
    return name == "paycore" or name.startswith("paycore.") or name.endswith("_handler")


@pytest.fixture(scope="module", autouse=True)
def suite_paycore_back():
    """A test module that starts the local runner (tests/test_aws_triggers.py, the local end to end
    run) leaves its own copies of paycore and the handlers in sys.modules: the next module's
    fixtures would patch the suite's copy (the delivery tests' clock) while its handlers import the
    runner's. The suite's copies come back after every module."""
    import sys

    before = {name: module for name, module in sys.modules.items() if _runner_namespace(name)}
    yield
    for name in [n for n in sys.modules if _runner_namespace(n) and n not in before]:
        del sys.modules[name]
    sys.modules.update(before)


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    """All stacks synthesized once into a temporary cdktf.out."""
    outdir = tmp_path_factory.mktemp("cdktf.out")
    main.build_app(outdir=str(outdir)).synth()
    return outdir


@pytest.fixture(scope="session")
def stack_json(synth_dir):
    def load(environment: str) -> dict:
        return json.loads((synth_dir / "stacks" / environment / "cdk.tf.json").read_text())

    return load


def _module_marked(item, name: str) -> bool:
    marks = getattr(item.module, "pytestmark", [])
    return any(mark.name == name for mark in (marks if isinstance(marks, list) else [marks]))


def pytest_collection_modifyitems(items):
    """Modules marked slow as a whole (a deployment to an emulator: mostly waiting on Terraform)
    run first, so that under ./scripts/test.sh's several processes they start at once and the
    rest runs beside them; then the modules with some slow test (Terraform, checkov, a synth in a
    subprocess), so that the light ones fill the end of the run, beside the local deployment's
    destroy, instead of a module that competes with it for the CPU; otherwise the order is the
    collection's. The longest_path module goes first of all: xdist hands the first file to a
    process of its own."""
    with_slow_tests = {item.module for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: (not _module_marked(item, "longest_path"), not _module_marked(item, "slow"),
                                 item.module not in with_slow_tests))


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, except that the process given the first file (the longest_path module,
    sorted first) takes no other file: it is told to shut down as soon as it has that file, so it
    runs the file and exits. xdist's own rule hands a process its next file once its current one
    has two tests left: it queued a module behind the local deployment's ~2 min destroy, on the
    suite's longest path, while the other processes ran out of work. (Merely withholding the next
    file is not enough: a process runs its last test only once it has a next one or is told to
    shut down.) In a run whose first file is short, that process stops early and the others share
    the rest. Any other --dist is xdist's own."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FirstFileAlone(LoadFileScheduling):
        first_node = None  # the process given the first file

        def _assign_work_unit(self, node):
            if self.first_node is None:
                self.first_node = node
            super()._assign_work_unit(node)

        def _reschedule(self, node):
            if node is self.first_node:
                if not node.shutting_down:
                    node.shutdown()
                return
            super()._reschedule(node)

    return FirstFileAlone(config, log)


_NICE = 19


def pytest_runtest_setup(item):
    """Under ./scripts/test.sh's several processes (pytest-xdist), a process that runs a module
    not marked longest_path yields the CPU to the local deployment's processes from then on (nice
    19, and so do the Terraform, node and checkov processes it starts): the deployment module is
    the suite's longest path, the rest fills what CPU it leaves. A single process is left alone."""
    if os.environ.get("PYTEST_XDIST_WORKER") and not _module_marked(item, "longest_path") and os.nice(0) < _NICE:
        os.nice(_NICE - os.nice(0))
        for pid in _descendants(os.getpid()):  # jsii's Node.js, started while collecting
            try:
                os.setpriority(os.PRIO_PROCESS, pid, max(_NICE, os.getpriority(os.PRIO_PROCESS, pid)))
            except OSError:  # gone meanwhile
                pass


def _descendants(pid: int) -> list[int]:
    """The processes below `pid` (Linux /proc; none elsewhere)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found.extend(children)
        todo.extend(children)
    return found
