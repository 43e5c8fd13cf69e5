"""Build the Lambda zips: one per function (``lambda_src/<fn>/``) and one layer zip.

Deterministic: sorted entries, fixed timestamps (1980-01-01), fixed permissions (0644 files,
no directory entries), no ``*.dist-info/RECORD``; the same checkout builds byte-identical zips, so
a clean checkout plans no change.

Bytecode: Lambda's ``/var/task`` and ``/opt`` are read-only, so a zip without ``.pyc`` makes every
cold start compile every module it imports. Each ``X.py`` ships with
``__pycache__/X.cpython-311.pyc`` (unchecked-hash: the loader never compares it with the source),
compiled by a clean CPython 3.11 subprocess (``-I -S -B``, ``PYTHONHASHSEED=0``: marshal output
depends on hash order and on which strings the compiling process shares, so it must not be the
caller's process) with the source path as Lambda sees it. Building on another Python version fails
loudly (bytecode is per minor version; the runtime is python3.11). Source ``__pycache__`` folders
and stray ``.pyc`` files are never copied.

Layer: ``python/paycore/`` from ``lambda_src/layer/paycore`` plus the third-party runtime deps of
``lambda_src/layer/requirements.txt``, resolved as
manylinux2014 aarch64 / CPython 3.11 wheels with ``pip download --only-binary=:all:``
into ``.cache/wheels/<hash>/`` and unpacked. Transitive versions are constrained by the
``default`` section of Pipfile.lock (the versions the tests run against), so resolution does not
drift. Packages the Lambda Python runtime already ships (boto3, botocore, ...) are left out.

Cached: each artifact is keyed by a hash of its inputs (sources, requirements, constraints,
platform, this script's format version); when the manifest in the output directory already has
that key and the zip is intact, nothing is rebuilt (synth calls this on every run).

Output: ``build/lambda/{name}-{sha256[:16]}.zip`` and ``build/lambda/manifest.json``::

    {"archiver": {"kind": "function", "file": "archiver-0123456789abcdef.zip",
                  "path": "/abs/build/lambda/archiver-0123456789abcdef.zip",
                  "sha256": "<hex>", "source_code_hash": "<base64 sha256>",
                  "inputs_sha256": "<hex>", "handler": "archiver_handler.handler"},
     "layer": {"kind": "layer", ...}}

Python API: ``build_all(out_dir) -> dict`` (the manifest). CLI: ``python -m scripts.packaging``.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import marshal
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Iterable

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_SRC = ROOT / "lambda_src"
LAYER_SRC = LAMBDA_SRC / "layer"
DEFAULT_OUT = ROOT / "build" / "lambda"
WHEEL_CACHE = ROOT / ".cache" / "wheels"
LOCK_FILE = ROOT / "Pipfile.lock"

FORMAT_VERSION = "2"  # bump when the zip layout or the build rules change
PLATFORM = ("manylinux2014_aarch64", "3.11", "cp")
#: Shipped by the Lambda Python 3.11 runtime: kept out of the layer (botocore alone is ~80 MB).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "urllib3", "python_dateutil", "six"})
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
RUNTIME_PYTHON = (3, 11)
PYC_TAG = "cpython-311"
#: Where the zips land on Lambda: function code in /var/task, layer content under /opt.
FUNCTION_ROOT, LAYER_ROOT = "/var/task/", "/opt/"
FILE_MODE = 0o100644 << 16
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo")


# --------------------------------------------------------------------------- helpers

def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _walk(base: Path) -> list[Path]:
    """Files under ``base``, sorted by their POSIX relative path, build junk excluded."""
    found = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in filenames:
            if name.endswith(_SKIP_SUFFIXES) or name == ".DS_Store":
                continue
            found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(base).as_posix())


def deterministic_zip(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """Zip ``(arcname, data)`` pairs: sorted, fixed dates and modes, DEFLATE level 9."""
    buffer = io.BytesIO()
    seen: set[str] = set()
    with zipfile.ZipFile(buffer, "w") as archive:
        for arcname, data in sorted(entries, key=lambda e: e[0]):
            if arcname in seen:
                raise ValueError(f"duplicate zip entry {arcname}")
            seen.add(arcname)
            info = zipfile.ZipInfo(arcname, date_time=FIXED_DATE)
            info.external_attr = FILE_MODE
            info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


_COMPILER = r"""
import importlib.util, marshal, sys
from importlib._bootstrap_external import _code_to_hash_pyc
out = []
for path, source in marshal.load(sys.stdin.buffer):
    try:
        code = compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        out.append(b"")
        continue
    out.append(bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False)))
marshal.dump(out, sys.stdout.buffer)
"""


def require_runtime_python() -> None:
    """Bytecode is only valid for the minor version that wrote it: refuse anything but 3.11."""
    if sys.version_info[:2] != RUNTIME_PYTHON or sys.implementation.cache_tag != PYC_TAG:
        raise RuntimeError(
            f"scripts.packaging must run on CPython {RUNTIME_PYTHON[0]}.{RUNTIME_PYTHON[1]} (the Lambda runtime, "
            f"python3.11) to ship valid .pyc files; this is {sys.implementation.cache_tag} ({sys.executable})"
        )


def pyc_name(arcname: str) -> str:
    """``a/b.py`` -> ``a/__pycache__/b.cpython-311.pyc``."""
    folder, _, file_name = arcname.rpartition("/")
    return (folder + "/" if folder else "") + f"__pycache__/{file_name[:-3]}.{PYC_TAG}.pyc"


def with_bytecode(entries: list[tuple[str, bytes]], install_root: str) -> list[tuple[str, bytes]]:
    """``entries`` plus an unchecked-hash ``.pyc`` beside each ``.py`` (as Lambda would import it from
    ``install_root + arcname``). A file that does not compile on 3.11 ships as source only (it
    would fail at import either way)."""
    require_runtime_python()
    sources = [(arcname, data) for arcname, data in entries if arcname.endswith(".py")]
    if not sources:
        return list(entries)
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", _COMPILER],
        input=marshal.dumps([(install_root + arcname, data) for arcname, data in sources]),
        capture_output=True, check=True, env={"PYTHONHASHSEED": "0"},
    )
    compiled = marshal.loads(result.stdout)
    return list(entries) + [(pyc_name(arcname), pyc) for (arcname, _), pyc in zip(sources, compiled, strict=True) if pyc]


def _tree_entries(base: Path, prefix: str = "") -> list[tuple[str, bytes]]:
    return [(prefix + p.relative_to(base).as_posix(), p.read_bytes()) for p in _walk(base)]


def _inputs_hash(parts: Iterable[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256(f"format={FORMAT_VERSION}\n".encode())
    for name, data in sorted(parts, key=lambda p: p[0]):
        digest.update(f"{name}\0{_sha256(data)}\n".encode())
    return digest.hexdigest()


def functions() -> list[str]:
    """Function folders: ``lambda_src/<fn>/<fn>_handler.py``."""
    return sorted(
        d.name for d in LAMBDA_SRC.iterdir() if d.is_dir() and (d / f"{d.name}_handler.py").is_file()
    )


# --------------------------------------------------------------------------- layer deps

def requirements_text() -> str:
    """The layer's pinned third-party deps: lambda_src/layer/requirements.txt (the one list)."""
    return (LAYER_SRC / "requirements.txt").read_text()


def constraints_text() -> str:
    """Exact pins for transitive deps from Pipfile.lock's default section (empty without a lock)."""
    if not LOCK_FILE.is_file():
        return ""
    default = json.loads(LOCK_FILE.read_text()).get("default", {})
    lines = [f"{name}{spec['version']}" for name, spec in sorted(default.items()) if spec.get("version")]
    return "\n".join(lines) + "\n"


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def fetch_wheels(requirements: str, constraints: str, cache_root: Path = WHEEL_CACHE) -> list[Path]:
    """Download (once) the wheels for the layer; returns the wheel paths, sorted."""
    key = _sha256(f"{requirements}\0{constraints}\0{PLATFORM}".encode())[:24]
    target = cache_root / key
    complete = target / ".complete"
    if not complete.is_file():
        # downloaded beside the cache and renamed into place when complete: several processes may
        # build at once (the suite runs on several), and none may read a half-downloaded folder
        cache_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_root) as tmp:
            req, con = Path(tmp, "requirements.txt"), Path(tmp, "constraints.txt")
            req.write_text(requirements)
            con.write_text(constraints)
            wheels = Path(tmp, "wheels")
            platform, python_version, implementation = PLATFORM
            command = [
                sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                "--only-binary=:all:", "--platform", platform, "--python-version", python_version,
                "--implementation", implementation, "-r", str(req), "-d", str(wheels),
            ]
            if constraints:
                command += ["-c", str(con)]
            subprocess.run(command, check=True)
            (wheels / ".complete").write_text("ok\n")
            if not complete.is_file():  # else another process finished first, with the same wheels
                shutil.rmtree(target, ignore_errors=True)  # an incomplete folder of an interrupted run
                try:
                    os.rename(wheels, target)
                except OSError:
                    if not complete.is_file():
                        raise
    return sorted(target.glob("*.whl"))


def _wheel_entries(wheel: Path) -> list[tuple[str, bytes]]:
    """A wheel's files as they land under ``python/`` (as pip would install them)."""
    entries = []
    with zipfile.ZipFile(wheel) as archive:
        for original in sorted(archive.namelist()):
            if original.endswith("/") or "__pycache__/" in original or original.endswith(_SKIP_SUFFIXES):
                continue
            parts = original.split("/")
            if parts[0].endswith(".dist-info") and parts[-1] in {"RECORD", "INSTALLER", "REQUESTED"}:
                continue
            arcname = original
            if parts[0].endswith(".data"):
                if len(parts) > 2 and parts[1] in {"purelib", "platlib"}:
                    arcname = "/".join(parts[2:])
                else:
                    continue  # scripts/headers/data: not importable, not needed at runtime
            entries.append(("python/" + arcname, archive.read(original)))
    return entries


def _wheel_project(wheel: Path) -> str:
    return _normalized(wheel.name.split("-")[0])


# --------------------------------------------------------------------------- artifacts

def _function_artifact(name: str) -> tuple[str, Callable[[], list[tuple[str, bytes]]]]:
    base = LAMBDA_SRC / name
    entries = _tree_entries(base)
    inputs = [("kind", b"function"), ("name", name.encode()), ("bytecode", PYC_TAG.encode())]
    return _inputs_hash(inputs + entries), lambda: with_bytecode(entries, FUNCTION_ROOT)


def _layer_artifact(include_deps: bool) -> tuple[str, Callable[[], list[tuple[str, bytes]]]]:
    source = _tree_entries(LAYER_SRC / "paycore", "python/paycore/")
    requirements, constraints = (requirements_text(), constraints_text()) if include_deps else ("", "")
    inputs = [("kind", b"layer"), ("requirements", requirements.encode()), ("constraints", constraints.encode()),
              ("platform", repr(PLATFORM).encode()), ("excluded", repr(sorted(RUNTIME_PROVIDED)).encode()),
              ("bytecode", PYC_TAG.encode())]

    def entries() -> list[tuple[str, bytes]]:
        collected = list(source)
        if include_deps:
            for wheel in fetch_wheels(requirements, constraints):
                if _wheel_project(wheel) not in RUNTIME_PROVIDED:
                    collected.extend(_wheel_entries(wheel))
        return with_bytecode(collected, LAYER_ROOT)

    return _inputs_hash(inputs + source), entries


def _load_manifest(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _intact(entry: dict, out_dir: Path) -> bool:
    zip_path = out_dir / entry.get("file", "")
    return zip_path.is_file() and _sha256(zip_path.read_bytes()) == entry.get("sha256")


def _write_atomically(path: Path, data: bytes) -> None:
    """Write through a temporary file and a rename: several processes may build into one output
    folder at once (the suite runs on several processes); a reader sees the old or the new file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def build_all(out_dir: str | os.PathLike = DEFAULT_OUT, *, include_layer_deps: bool = True,
              force: bool = False) -> dict[str, dict]:
    """Build (or reuse) every function zip and the layer zip; write and return the manifest."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    previous = _load_manifest(manifest_path)
    manifest: dict[str, dict] = {}
    plan = [(name, "function", *_function_artifact(name)) for name in functions()]
    plan.append(("layer", "layer", *_layer_artifact(include_layer_deps)))
    for name, kind, inputs_sha, entries in plan:
        cached = previous.get(name)
        if not force and cached and cached.get("inputs_sha256") == inputs_sha and _intact(cached, out):
            manifest[name] = {**cached, "path": str(out / cached["file"])}
            continue
        data = deterministic_zip(entries())
        digest = hashlib.sha256(data)
        file_name = f"{name}-{digest.hexdigest()[:16]}.zip"
        _write_atomically(out / file_name, data)
        for stale in out.glob(f"{name}-*.zip"):
            if stale.name != file_name and re.fullmatch(rf"{re.escape(name)}-[0-9a-f]{{16}}\.zip", stale.name):
                stale.unlink(missing_ok=True)
        manifest[name] = {
            "kind": kind,
            "file": file_name,
            "path": str(out / file_name),
            "sha256": digest.hexdigest(),
            "source_code_hash": base64.b64encode(digest.digest()).decode("ascii"),
            "inputs_sha256": inputs_sha,
            "size_bytes": len(data),
        }
        if kind == "function":
            manifest[name]["handler"] = f"{name}_handler.handler"
    _write_atomically(manifest_path, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.packaging", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output directory (default build/lambda)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    parser.add_argument("--no-layer-deps", action="store_true", help="layer with paycore only (offline)")
    args = parser.parse_args(argv)
    manifest = build_all(args.out, include_layer_deps=not args.no_layer_deps, force=args.force)
    for name, entry in sorted(manifest.items()):
        print(f"{name:12s} {entry['size_bytes']:>10d}  {entry['file']}")
    return 0

