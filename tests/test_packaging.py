"""scripts/packaging: byte-identical zips (with .pyc) from the same checkout, a truthful manifest, a cache."""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import marshal
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scripts.packaging import zips as package

ROOT = Path(__file__).resolve().parent.parent


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
    assert {"delivery_fanout", "delivery_sender"} <= set(first)  # the vendor delivery functions too
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
                assert not info.filename.endswith(".dist-info/RECORD")
            # bytecode only as the unchecked-hash .pyc of a shipped source, nothing else
            compiled = {n for n in names if "__pycache__/" in n or n.endswith(".pyc")}
            assert compiled == {package.pyc_name(n) for n in names if n.endswith(".py")}


def test_every_module_ships_unchecked_hash_bytecode_for_python_311(two_builds):
    """Lambda's /var/task and /opt are read-only: without these, every cold start compiles."""
    (out, manifest), _ = two_builds
    for name, entry in manifest.items():
        root = "/opt/" if name == "layer" else "/var/task/"
        with zipfile.ZipFile(out / entry["file"]) as archive:
            sources = [n for n in archive.namelist() if n.endswith(".py")]
            assert sources
            for source in sources:
                pyc = archive.read(package.pyc_name(source))
                assert pyc[:4] == importlib.util.MAGIC_NUMBER  # this interpreter is 3.11 (scripts.packaging checks)
                assert int.from_bytes(pyc[4:8], "little") == 0b01  # hash-based, source never checked
                assert pyc[8:16] == importlib.util.source_hash(archive.read(source))
            code = marshal.loads(archive.read(package.pyc_name(sources[0]))[16:])
            assert code.co_filename == root + sources[0]


def test_packaging_refuses_another_python_than_the_runtimes(monkeypatch):
    monkeypatch.setattr(package, "RUNTIME_PYTHON", (3, 12))
    with pytest.raises(RuntimeError, match="must run on CPython 3.12"):
        package.with_bytecode([("a.py", b"x = 1\n")], "/var/task/")


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
    # paycore.fastdecode's C extensions, as Lambda's arm64 CPython 3.11 loads them
    assert "python/orjson/orjson.cpython-311-aarch64-linux-gnu.so" in names
    assert "python/pybase64/_pybase64.cpython-311-aarch64-linux-gnu.so" in names
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
        assert archive.namelist() == ["__pycache__/alpha_handler.cpython-311.pyc", "alpha_handler.py"]  # no junk


def test_the_shipped_bytecode_is_what_runs_from_a_read_only_root(tmp_path, monkeypatch):
    """Unchecked-hash .pyc: the interpreter loads it without reading the source's mtime or hash
    (proved here by changing the source after the build: the shipped bytecode still runs)."""
    src = tmp_path / "lambda_src"
    (src / "alpha").mkdir(parents=True)
    (src / "alpha" / "alpha_handler.py").write_text("def handler(e, c):\n    return 'built'\n")
    (src / "layer" / "paycore").mkdir(parents=True)
    (src / "layer" / "paycore" / "__init__.py").write_text("")
    monkeypatch.setattr(package, "LAMBDA_SRC", src)
    monkeypatch.setattr(package, "LAYER_SRC", src / "layer")
    manifest = package.build_all(tmp_path / "out", include_layer_deps=False)
    task = tmp_path / "task"
    with zipfile.ZipFile(manifest["alpha"]["path"]) as archive:
        archive.extractall(task)
    (task / "alpha_handler.py").write_text("def handler(e, c):\n    return 'edited'\n")
    run = subprocess.run([sys.executable, "-B", "-c", "import alpha_handler; print(alpha_handler.handler(0, 0))"],
                         cwd=task, capture_output=True, text=True, check=True, env={"PYTHONPATH": str(task)})
    assert run.stdout.strip() == "built"
