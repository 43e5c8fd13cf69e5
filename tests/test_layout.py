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
    from constructs.settings import load_settings

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
