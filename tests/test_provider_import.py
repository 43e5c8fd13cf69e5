"""The lazy provider loader (constructs/provider_import.py) must change nothing but speed: the
stack synthesized with the stock package import is byte-identical."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT

STOCK = """
import os, sys
sys.path.insert(0, {root!r})
os.environ['JSII_NODE'] = {node!r}
import cdktf_cdktf_provider_aws            # the stock import: every submodule
assert hasattr(cdktf_cdktf_provider_aws, '__all__')
import main
from constructs import provider_import
assert not provider_import.is_lazy()
main.build_app(outdir={outdir!r}).synth()
"""


def test_lazy_loader_is_active_in_the_suite():
    from constructs import provider_import

    assert provider_import.is_lazy()
    import cdktf_cdktf_provider_aws

    assert cdktf_cdktf_provider_aws.sqs_queue.SqsQueue.__name__ == "SqsQueue"
    with pytest.raises(AttributeError):
        cdktf_cdktf_provider_aws.no_such_resource


@pytest.mark.slow
def test_stock_import_synthesizes_the_same_bytes(synth_dir, tmp_path):
    node = str(ROOT / "node_modules" / ".bin" / "node")
    code = STOCK.format(root=str(ROOT), node=node, outdir=str(tmp_path))
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env=dict(os.environ))
    assert run.returncode == 0, run.stderr[-3000:]
    for environment in ("dev", "prod", "local"):
        lazy = (synth_dir / "stacks" / environment / "cdk.tf.json").read_bytes()
        stock = (tmp_path / "stacks" / environment / "cdk.tf.json").read_bytes()
        assert lazy == stock, environment
