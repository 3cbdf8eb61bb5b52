"""Every relative link in the Markdown files, and every repository path named in a YAML (or Dockerfile)
comment, points at something that exists; a link's ``#anchor`` names a heading of its target."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
REPO_PATH = re.compile(r"(?<![\w./-])((?:docs|deploy|libs|services|tests|tools)/[\w./-]*[\w/])")
EXTERNAL = ("http://", "https://", "mailto:")


def tracked(*patterns: str) -> list[Path]:
    """Files in the repository (tracked or new, not ignored) matching the patterns."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", *patterns], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    return [REPO / line for line in out.splitlines() if (REPO / line).is_file()]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(m) for m in re.findall(r"^#+\s+(.*)$", path.read_text(encoding="utf-8"), re.MULTILINE)}


def markdown_problems(path: Path) -> list[str]:
    problems = []
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)  # code is not links
    for target in LINK.findall(text):
        if target.startswith(EXTERNAL):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            problems.append(f"{path.relative_to(REPO)}: {target} does not exist")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{path.relative_to(REPO)}: {target}: no heading #{anchor}")
    return problems


def comment_problems(path: Path) -> list[str]:
    problems = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if "#" not in line:
            continue
        comment = line[line.index("#"):]
        for name in REPO_PATH.findall(comment):
            if not (REPO / name).exists():
                problems.append(f"{path.relative_to(REPO)}:{n}: {name} does not exist")
    return problems


def test_markdown_links() -> None:
    files = tracked("*.md")
    assert len(files) >= 6
    assert [p for f in files for p in markdown_problems(f)] == []


def test_paths_in_yaml_and_dockerfile_comments() -> None:
    files = tracked("*.yaml", "*.yml", "*Dockerfile", "Makefile")
    assert any(f.name == "docker-compose.yml" for f in files)
    assert [p for f in files for p in comment_problems(f)] == []


def test_the_checks_catch_a_broken_link(tmp_path: Path) -> None:
    page = REPO / "docs" / "_link_check_probe.md"
    page.write_text("[gone](missing.md) [fine](deploy.md) [bad anchor](deploy.md#no-such-heading)\n")
    try:
        problems = markdown_problems(page)
    finally:
        page.unlink()
    assert len(problems) == 2 and "missing.md" in problems[0] and "#no-such-heading" in problems[1]
    yaml_file = tmp_path / "x.yaml"
    yaml_file.write_text("a: 1  # see docs/nowhere.md and docs/deploy.md\n")
    found = comment_problems(yaml_file.rename(REPO / "deploy" / "_probe.yaml"))
    (REPO / "deploy" / "_probe.yaml").unlink()
    assert found == ["deploy/_probe.yaml:1: docs/nowhere.md does not exist"]
