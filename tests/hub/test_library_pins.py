"""The libraries whose internals the product mirrors are installed, and declared, at the
versions it mirrors (``hub.engine.MIRRORED``, described in ``hub/engine/__init__.py``).

The engine overrides or leans on private parts of python-engineio, python-socketio, aiohttp
and redis-py (and ``api/db.py`` on asyncpg's), read against one minor version of each. Another
minor installed, or a ``pyproject.toml`` range admitting one, fails here with the files to
re-read. ``packaging`` comes with pytest.
"""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import hub.engine
from hub.engine import MIRRORED, Mirrored

REPO_ROOT = Path(__file__).resolve().parents[2]
PINS_AT = "hub/engine/__init__.py"


def _minor(version: str) -> tuple[int, int]:
    release = Version(version).release
    return release[0], release[1] if len(release) > 1 else 0


def version_problem(dist: str, installed: str, pin: Mirrored) -> str | None:
    """Why ``installed`` is not of the minor ``pin`` mirrors; None when it is."""
    if _minor(installed) == _minor(pin.minor):
        return None
    files = "".join(f"\n  {path}" for path in pin.files)
    return (
        f"{dist} {installed} is installed, but the product mirrors {dist} {pin.minor}. "
        f"Upgrading {dist} is a deliberate act: re-read these files against {dist}'s changes, "
        f"then bump the pin in {PINS_AT} (MIRRORED) and in pyproject.toml:{files}"
    )


def range_problem(line: str, pin: Mirrored) -> str | None:
    """Why a ``pyproject.toml`` dependency line admits a version outside ``pin.minor`` (or
    none inside it); None when it admits that minor only."""
    requirement = Requirement(line)
    major, minor = _minor(pin.minor)
    spec = requirement.specifier
    outside = [f"{major}.{minor + 1}.0", f"{major}.{minor + 1}.0rc1", f"{major + 1}.0.0"]
    if minor > 0:
        outside.append(f"{major}.{minor - 1}.9999")
    elif major > 0:
        outside.append(f"{major - 1}.9999.9999")
    admitted = [v for v in outside if spec.contains(v, prereleases=True)]
    inside = any(spec.contains(f"{major}.{minor}.{patch}") for patch in range(100))
    if not admitted and inside:
        return None
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    wanted = f"{requirement.name}{extras}>={major}.{minor},<{major}.{minor + 1}"
    what = f"admits {admitted[0]}" if inside else f"admits no {pin.minor}.x"
    return (
        f"pyproject.toml declares {line!r}, which {what}; the product mirrors "
        f"{requirement.name} {pin.minor} ({PINS_AT}): declare {wanted!r}"
    )


def _declared() -> dict[str, str]:
    """Distribution -> its line in ``[project].dependencies``."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    lines: list[str] = project.get("dependencies", [])
    return {canonicalize_name(Requirement(line).name): line for line in lines}


@pytest.mark.parametrize("dist", sorted(MIRRORED))
def test_the_installed_version_is_the_mirrored_one(dist: str) -> None:
    problem = version_problem(dist, importlib.metadata.version(dist), MIRRORED[dist])
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.mark.parametrize("dist", sorted(MIRRORED))
def test_pyproject_admits_the_mirrored_minor_only(dist: str) -> None:
    line = _declared().get(canonicalize_name(dist))
    if line is None:
        pytest.fail(f"pyproject.toml declares no {dist} (mirrored in {PINS_AT})", pytrace=False)
    problem = range_problem(line, MIRRORED[dist])
    if problem:
        pytest.fail(problem, pytrace=False)


def test_the_files_to_re_read_exist() -> None:
    missing = [
        f"{dist}: {path}"
        for dist, pin in MIRRORED.items()
        for path in pin.files
        if not (REPO_ROOT / path).is_file()
    ]
    assert not missing, f"{PINS_AT} MIRRORED names files that are gone: {missing}"


def test_the_note_names_each_mirrored_version() -> None:
    note = hub.engine.__doc__ or ""
    names = {"redis": "redis-py"}  # the note calls a library what its project calls itself
    labels = [f"{names.get(dist, dist)} {pin.minor}" for dist, pin in MIRRORED.items()]
    stale = [label for label in labels if label not in note]
    assert not stale, f"the note in {PINS_AT} does not name: {stale}"


# ---------------------------------------------------------------- the checks can fail


def test_another_installed_minor_fails_naming_the_files_to_re_read() -> None:
    pin = Mirrored("4.15", ("hub/engine/eio.py", "hub/engine/guard.py"))
    assert version_problem("python-engineio", "4.15.9", pin) is None
    problem = version_problem("python-engineio", "4.16.0", pin)
    assert problem is not None
    assert "python-engineio 4.16.0 is installed" in problem
    assert "mirrors python-engineio 4.15" in problem
    assert "deliberate act" in problem and "pyproject.toml" in problem
    assert "\n  hub/engine/eio.py\n  hub/engine/guard.py" in problem
    assert version_problem("python-engineio", "4.16.0rc1", pin) is not None
    assert version_problem("python-engineio", "5.15.0", pin) is not None


@pytest.mark.parametrize(
    ("line", "minor"),
    [
        ("aiohttp>=3.14,<3.15", "3.14"),
        ("aiohttp==3.14.*", "3.14"),
        ("python-engineio~=4.15.1", "4.15"),
        ("redis[hiredis]>=8.1,<8.2", "8.1"),
        ("asyncpg>=0.32,<0.33", "0.32"),
    ],
)
def test_a_range_of_one_minor_passes(line: str, minor: str) -> None:
    assert range_problem(line, Mirrored(minor, ())) is None


@pytest.mark.parametrize(
    ("line", "minor", "admits"),
    [
        ("aiohttp>=3.10,<4", "3.14", "admits 3.15.0"),
        ("python-engineio~=4.15", "4.15", "admits 4.16.0"),
        ("redis[hiredis]>=5.0", "8.1", "admits 8.2.0"),
        ("asyncpg>=0.29", "0.32", "admits 0.33.0"),
        ("aiohttp>=3.14,<=3.15", "3.14", "admits 3.15.0"),
        ("aiohttp>=3.15,<3.16", "3.14", "admits no 3.14.x"),
    ],
)
def test_a_range_admitting_another_minor_fails_naming_pyproject(
    line: str, minor: str, admits: str
) -> None:
    problem = range_problem(line, Mirrored(minor, ()))
    assert problem is not None
    assert problem.startswith(f"pyproject.toml declares {line!r}, which {admits};")
    major, _, low = minor.partition(".")
    name = Requirement(line).name + ("[hiredis]" if "[hiredis]" in line else "")
    assert problem.endswith(f"declare '{name}>={minor},<{major}.{int(low) + 1}'")
