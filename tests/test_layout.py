"""The project's fixed layout and the guard that keeps `constructs/` a namespace portion."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_constructs_folder_has_no_init_so_it_merges_into_the_library():
    assert not (ROOT / "constructs" / "__init__.py").exists(), (
        "constructs/__init__.py shadows the constructs library (DESIGN.md): delete it"
    )


def test_constructs_library_and_project_modules_both_import():
    import constructs
    from constructs import Construct
    from constructs.app.environments import load_settings

    assert Construct.__module__.startswith("constructs")
    assert any(Path(p) == ROOT / "constructs" for p in constructs.__path__)
    assert load_settings("dev").environment == "dev"


def test_no_project_module_is_named_like_a_library_module():
    library = {"_jsii"}
    ours = {p.stem for p in (ROOT / "constructs").iterdir()}
    assert not library & ours


def test_fixed_layout_exists():
    for name in ("main.py", "cdktf.json", "Pipfile", "Pipfile.lock", "README.md", ".gitignore",
                 ".ci/run", "terraform.rc", "package.json", "package-lock.json"):
        assert (ROOT / name).is_file(), name
    for name in ("constructs", "lambda_src", "tests", "scripts"):
        assert (ROOT / name).is_dir(), name


def test_generated_output_is_ignored_by_git():
    ignored = (ROOT / ".gitignore").read_text().split()
    for entry in ("cdktf.out/", "build/", ".venv/", "node_modules/", "*.zip", "__pycache__/"):
        assert entry in ignored, entry


def test_pins_are_exact():
    pipfile = (ROOT / "Pipfile").read_text()
    for pin in ('cdktf = "==0.21.0"', 'cdktf-cdktf-provider-aws = "==20.1.0"'):
        assert pin in pipfile
    assert '"*"' not in pipfile


# ----- one package per concern, imports one way --------------------------------------------------

CONCERNS = {"ingress", "queueing", "processing", "storage", "notification", "observability", "vpc",
            "security", "configuration", "core", "app", "delivery", "reconcile"}


def _import_statements(path: Path, package: str = "") -> list[tuple[str, list[str]]]:
    """(module, names) of every import in a file (module level and inside functions): `import a.b`
    gives ("a.b", []), `from a import b, c` gives ("a", ["b", "c"]); a relative import is resolved
    against `package`, the importing module's package."""
    import ast

    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if not package:
                    continue
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            elif node.module:
                module = node.module
            else:
                continue
            found.append((module, [alias.name for alias in node.names]))
    return found


def _imports(path: Path, package: str = "") -> set[str]:
    """Every module a file imports, as absolute names (`from a.b import c` gives a.b and a.b.c)."""
    names: set[str] = set()
    for module, imported in _import_statements(path, package):
        names.add(module)
        names.update(f"{module}.{name}" for name in imported)
    return names


def test_constructs_are_one_package_per_concern_in_the_users_words():
    packages = {p.name for p in (ROOT / "constructs").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert packages == CONCERNS
    assert all((ROOT / "constructs" / name / "__init__.py").is_file() for name in CONCERNS)
    assert not [p.name for p in (ROOT / "constructs").glob("*.py")], "modules belong in a concern's package"


#: The most lines a module of constructs/ may have: past it, a concern wants a module of its own.
MAX_MODULE_LINES = 450


def test_no_module_in_constructs_is_over_the_line_limit():
    long = {path.relative_to(ROOT).as_posix(): lines for path in (ROOT / "constructs").rglob("*.py")
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"split these modules (at most {MAX_MODULE_LINES} lines each): {long}"


def test_no_module_in_lambda_src_is_over_the_line_limit():
    long = {path.relative_to(ROOT).as_posix(): lines for path in (ROOT / "lambda_src").rglob("*.py")
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"split these modules (at most {MAX_MODULE_LINES} lines each): {long}"


#: The most lines the stack module may have: it only wires; what it wires with lives in constructs/app.
MAX_STACK_LINES = 400


def test_stack_module_only_wires_within_its_line_limit():
    lines = len((ROOT / "constructs" / "app" / "stack.py").read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_STACK_LINES, f"constructs/app/stack.py has {lines} lines: move helpers out (at most {MAX_STACK_LINES})"


def _reexport_problems(path: Path) -> list[str]:
    """What an `__init__.py` does besides a docstring, imports and `__all__`."""
    import ast

    problems = []
    for index, node in enumerate(ast.parse(path.read_text(encoding="utf-8")).body):
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            continue  # the docstring
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            continue
        problems.append(f"{path.relative_to(ROOT).as_posix()}:{node.lineno}: {type(node).__name__}")
    return problems


def test_package_inits_only_reexport_their_named_modules():
    """Code lives in named modules (queueing/queue.py, ...): every package's __init__.py is a
    docstring, imports and __all__, and each concern package has at least one module beside it."""
    inits = sorted((ROOT / "constructs").rglob("__init__.py"))
    assert [p for p in inits if p.parent.name == "__pycache__"] == []
    assert [problem for path in inits for problem in _reexport_problems(path)] == []
    for name in CONCERNS - {"app"}:
        modules = [p.name for p in (ROOT / "constructs" / name).glob("*.py") if p.name != "__init__.py"]
        assert modules, f"constructs/{name}: its code belongs in named modules, re-exported by __init__.py"


def test_the_reexport_check_catches_code_in_an_init(tmp_path, monkeypatch):
    init = tmp_path / "constructs" / "x" / "__init__.py"
    init.parent.mkdir(parents=True)
    init.write_text('"""Doc."""\nfrom a import b\n__all__ = ["b"]\nLIMIT = 3\n\nclass C:\n    pass\n')
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert _reexport_problems(init) == ["constructs/x/__init__.py:4: Assign", "constructs/x/__init__.py:6: ClassDef"]


def test_only_the_app_layer_reads_the_settings_or_imports_the_runtime_package():
    for path in (ROOT / "constructs").rglob("*.py"):
        if "app" in path.relative_to(ROOT / "constructs").parts:
            continue
        imported = _imports(path)
        assert not {m for m in imported if m.split(".")[0] == "paycore"}, path
        assert not {m for m in imported if m.startswith("constructs.app")}, path


def test_runtime_code_never_imports_infrastructure():
    for path in (ROOT / "lambda_src").rglob("*.py"):
        roots = {m.split(".")[0] for m in _imports(path)}
        assert not roots & {"constructs", "cdktf", "cdktf_cdktf_provider_aws", "main"}, path


def _cycles(package_root: Path) -> list[list[str]]:
    """Import cycles between the modules of one package (imports anywhere in a module count)."""
    modules = {}
    for path in package_root.rglob("*.py"):
        parts = path.relative_to(package_root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for module, imported in _import_statements(path, package):
            # `from a.b import c`: c is a module of the package (the dependency) or a name in a.b
            for target in [f"{module}.{n}" for n in imported] or [module]:
                for candidate in (target, target.rpartition(".")[0]):
                    if candidate in modules:
                        if candidate != name:
                            graph[name].add(candidate)
                        break
    cycles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return cycles


def test_import_graphs_have_no_cycle():
    assert _cycles(ROOT / "lambda_src" / "layer" / "paycore") == []
    assert _cycles(ROOT / "constructs") == []
    assert _cycles(ROOT / "scripts") == []


def test_the_cycle_check_sees_relative_imports(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import thing\n")
    (package / "b.py").write_text("from . import a\n")
    assert _cycles(package) == [["pkg.a", "pkg.b", "pkg.a"]]


# ----- scripts/: one package per room, imported by name -----------------------------------------

SCRIPT_ROOMS = {"local", "ops", "cost", "capacity", "bench", "packaging"}
#: Where Python genuinely loads a file by its path: the local runner loads each deployed function's
#: handler from its file, as Lambda does from the function's zip (its folder is not a package).
LOADS_BY_PATH = {"scripts/local/runner/functions.py"}
BY_PATH = {"spec_from_file_location", "SourceFileLoader", "SourcelessFileLoader", "run_path", "load_source"}


def test_scripts_is_one_package_per_room():
    packages = {p.name for p in (ROOT / "scripts").iterdir() if (p / "__init__.py").is_file()}
    assert packages == SCRIPT_ROOMS
    assert (ROOT / "scripts" / "__init__.py").is_file()
    loose = {p.name for p in (ROOT / "scripts").glob("*.py")} - {"__init__.py"}
    assert loose == {"toolchain.py", "json_paths.py"}, "modules belong in a room's package"
    # folders holding Python modules (a folder left with only a stale __pycache__ is not one)
    for folder in {p.parent for p in (ROOT / "scripts").rglob("*.py")}:
        assert (folder / "__init__.py").is_file(), f"{folder.relative_to(ROOT)} is not a package"


def test_nothing_loads_a_module_by_its_file_path():
    import ast

    offenders = []
    for path in [ROOT / "main.py", *(p for folder in ("scripts", "constructs", "tests") for p in (ROOT / folder).rglob("*.py"))]:
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if called in BY_PATH and rel not in LOADS_BY_PATH:
                    offenders.append(f"{rel}:{node.lineno} {called}")
    assert offenders == []


def test_the_path_loading_check_finds_a_loader(tmp_path):
    import ast

    code = "import importlib.util\nspec = importlib.util.spec_from_file_location('x', 'x.py')\n"
    calls = [n.func.attr for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
    assert set(calls) & BY_PATH == {"spec_from_file_location"}


def test_no_module_in_scripts_is_over_450_lines():
    long = {p.relative_to(ROOT).as_posix(): n for p in (ROOT / "scripts").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450}
    assert long == {}


def test_no_module_edits_sys_path():
    """paycore is an installed package and pytest.ini names the test import roots: no code puts a
    folder on sys.path. (Excepted: the processor benchmark, which imports the handler from its
    function folder as Lambda does.)"""
    excepted = {"scripts/bench/processor.py"}
    offenders = []
    for folder in ("constructs", "lambda_src", "scripts", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel in excepted or rel == "tests/test_layout.py":
                continue
            text = path.read_text(encoding="utf-8")
            if "sys.path.insert" in text or "sys.path[:0]" in text or "sys.path.append" in text:
                offenders.append(rel)
    assert offenders == []
    assert "sys.path" not in (ROOT / "main.py").read_text(encoding="utf-8")
