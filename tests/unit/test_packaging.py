"""pyproject.toml maps every package folder of the ``autotriage`` namespace, so a new package cannot be forgotten."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOTS = (ROOT / "libs" / "autotriage", ROOT / "services" / "autotriage")


def setuptools_config() -> tuple[dict[str, str], list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    tool = data["tool"]["setuptools"]
    return tool["package-dir"], tool["packages"]


def package_folders() -> dict[str, Path]:
    """Every folder holding Python files below the two roots, by dotted package name."""
    found: dict[str, Path] = {}
    for root in ROOTS:
        for py in root.rglob("*.py"):
            folder = py.parent
            if folder == root or "__pycache__" in folder.parts:
                continue
            name = "autotriage." + ".".join(folder.relative_to(root).parts)
            assert found.get(name, folder) == folder, f"{name} exists under both libs/ and services/"
            found[name] = folder
    return found


def test_every_package_folder_is_listed() -> None:
    package_dir, packages = setuptools_config()
    folders = package_folders()
    assert folders, "no package folders found: wrong repository root?"
    missing = sorted(set(folders) - set(packages))
    assert not missing, f"add to [tool.setuptools] packages: {missing}"
    top_level = sorted(name for name in folders if name.count(".") == 1)
    unmapped = [name for name in top_level if name not in package_dir]
    assert not unmapped, f"add to [tool.setuptools.package-dir]: {unmapped}"
    for name in top_level:
        assert (ROOT / package_dir[name]).resolve() == folders[name], f"{name} maps to the wrong folder"


def test_no_stale_entries() -> None:
    package_dir, packages = setuptools_config()
    folders = package_folders()
    for name, folder in package_dir.items():
        assert (ROOT / folder).is_dir(), f"package-dir {name} -> {folder} does not exist"
    stale = sorted(set(packages) - set(folders) - {"autotriage"})
    assert not stale, f"listed packages without a folder: {stale}"


def test_listed_packages_are_regular_packages() -> None:
    folders = package_folders()
    without_init = sorted(name for name, folder in folders.items() if not (folder / "__init__.py").is_file())
    assert not without_init, f"missing __init__.py: {without_init}"


def test_namespace_roots_have_no_init() -> None:
    for root in ROOTS:
        assert root.is_dir()
        assert not (root / "__init__.py").exists(), f"{root / '__init__.py'} would break the namespace package"
    package_dir, packages = setuptools_config()
    assert package_dir["autotriage"] == "services/autotriage"  # cli.py, app.py
    assert "autotriage" in packages


def test_console_script_points_at_cli() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["scripts"]["autotriage"] == "autotriage.cli:main"
    assert (ROOT / "services" / "autotriage" / "cli.py").is_file()


def test_sample_data_is_package_data() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data = data["tool"]["setuptools"]["package-data"]
    patterns = [*package_data.get("*", []), *package_data.get("autotriage.sandbox", [])]
    sandbox = ROOT / "libs" / "autotriage" / "sandbox"
    data_files = [p.relative_to(sandbox) for p in (sandbox / "data").rglob("*") if p.is_file()]
    assert data_files

    # setuptools matches package-data globs against the whole path relative to the package folder
    def matches(path: Path, pattern: str) -> bool:
        parts = pattern.split("/")
        return len(parts) == len(path.parts) and all(
            fnmatch.fnmatch(a, b) for a, b in zip(path.parts, parts, strict=True)
        )

    assert all(any(matches(p, pattern) for pattern in patterns) for p in data_files)


def test_the_wheel_holds_the_package_and_nothing_else(tmp_path: Path) -> None:
    """Built from a copy of what the Dockerfile copies: every module of libs/ and services/ and their data
    files, no test helpers, tools or deploy files."""
    import shutil
    import subprocess
    import sys
    import zipfile

    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("libs", "services"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("autotriage-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    files = {n for n in names if not n.startswith("autotriage-")}  # minus the .dist-info
    expected = {
        "autotriage/" + str(py.relative_to(root)) for root in ROOTS for py in root.rglob("*.py")
        if "__pycache__" not in py.parts
    }
    assert {f for f in files if f.endswith(".py")} == expected
    assert all(f.startswith("autotriage/") for f in files)
    assert not [f for f in files if "kafka_local" in f or "/tests/" in f or f.startswith(("tests/", "tools/"))]
    assert "autotriage/sandbox/data/connectwise/history.jsonl" in files or any(
        f.startswith("autotriage/sandbox/data/") for f in files), "the bundled sample data ships (demo)"
