"""scripts/package.py: byte-identical zips from the same checkout, a truthful manifest, a cache."""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import shutil
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_package_module():
    spec = importlib.util.spec_from_file_location("package_script", ROOT / "scripts" / "package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


package = _load_package_module()


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    """Two independent builds of one snapshot of this checkout's lambda_src (a snapshot, so an
    edit made while the suite runs cannot make the builds differ); layer deps from the wheel cache."""
    snapshot = tmp_path_factory.mktemp("checkout") / "lambda_src"
    shutil.copytree(ROOT / "lambda_src", snapshot, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    first, second = tmp_path_factory.mktemp("build1"), tmp_path_factory.mktemp("build2")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(package, "LAMBDA_SRC", snapshot)
        patch.setattr(package, "LAYER_SRC", snapshot / "layer")
        yield (first, package.build_all(first)), (second, package.build_all(second))


def test_same_checkout_builds_byte_identical_zips(two_builds):
    (first_dir, first), (second_dir, second) = two_builds
    assert set(first) == set(second) == set(package.functions()) | {"layer"}
    for name in first:
        assert first[name]["file"] == second[name]["file"]
        assert (first_dir / first[name]["file"]).read_bytes() == (second_dir / second[name]["file"]).read_bytes()


def test_manifest_hashes_match_the_files(two_builds):
    (out, manifest), _ = two_builds
    assert json.loads((out / "manifest.json").read_text()) == manifest
    for name, entry in manifest.items():
        data = (out / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["source_code_hash"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
        assert entry["file"] == f"{name}-{entry['sha256'][:16]}.zip"
        assert Path(entry["path"]) == out / entry["file"]


def test_zip_entries_are_normalized(two_builds):
    (out, manifest), _ = two_builds
    for entry in manifest.values():
        with zipfile.ZipFile(out / entry["file"]) as archive:
            infos = archive.infolist()
            names = [i.filename for i in infos]
            assert names == sorted(names)
            for info in infos:
                assert info.date_time == (1980, 1, 1, 0, 0, 0)
                assert info.external_attr == 0o100644 << 16
                assert "__pycache__" not in info.filename and not info.filename.endswith(".pyc")
                assert not info.filename.endswith(".dist-info/RECORD")


def test_function_zip_has_the_handler_at_the_root(two_builds):
    (out, manifest), _ = two_builds
    for name in package.functions():
        with zipfile.ZipFile(out / manifest[name]["file"]) as archive:
            assert f"{name}_handler.py" in archive.namelist()
        assert manifest[name]["handler"] == f"{name}_handler.handler"


def test_layer_has_paycore_and_aarch64_deps_but_not_the_runtime_sdk(two_builds):
    (out, manifest), _ = two_builds
    with zipfile.ZipFile(out / manifest["layer"]["file"]) as archive:
        names = archive.namelist()
    assert "python/paycore/events.py" in names
    assert any(n.startswith("python/aws_lambda_powertools/") for n in names)
    assert "python/cryptography/hazmat/bindings/_rust.abi3.so" in names
    assert "python/_cffi_backend.cpython-311-aarch64-linux-gnu.so" in names
    assert not any(n.startswith(("python/botocore/", "python/boto3/")) for n in names)


def test_unchanged_inputs_are_not_rebuilt(two_builds, monkeypatch):
    (out, manifest), _ = two_builds
    monkeypatch.setattr(package, "deterministic_zip", lambda entries: pytest.fail("rebuilt unchanged inputs"))
    assert package.build_all(out) == manifest


def test_a_changed_source_rebuilds_only_that_function(tmp_path, monkeypatch):
    src = tmp_path / "lambda_src"
    for name in ("alpha", "beta"):
        (src / name).mkdir(parents=True)
        (src / name / f"{name}_handler.py").write_text("def handler(e, c):\n    return 1\n")
    (src / "layer" / "paycore").mkdir(parents=True)
    (src / "layer" / "paycore" / "__init__.py").write_text("")
    (src / "alpha" / "__pycache__").mkdir()
    (src / "alpha" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    monkeypatch.setattr(package, "LAMBDA_SRC", src)
    monkeypatch.setattr(package, "LAYER_SRC", src / "layer")
    out = tmp_path / "out"
    first = package.build_all(out, include_layer_deps=False)
    (src / "alpha" / "alpha_handler.py").write_text("def handler(e, c):\n    return 2\n")
    second = package.build_all(out, include_layer_deps=False)
    assert second["beta"] == first["beta"] and second["layer"] == first["layer"]
    assert second["alpha"]["sha256"] != first["alpha"]["sha256"]
    assert sorted(p.name for p in out.glob("alpha-*.zip")) == [second["alpha"]["file"]]
    with zipfile.ZipFile(out / second["alpha"]["file"]) as archive:
        assert archive.namelist() == ["alpha_handler.py"]
