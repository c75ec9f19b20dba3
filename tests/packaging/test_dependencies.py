"""Declared dependencies match the imports: pip installs what the product imports, no more.

The imports are read with ``ast`` from every module of the product packages: at the top of a
module, inside functions, and under ``TYPE_CHECKING``, so an import that only one code path
reaches counts too. An import spelled as a string (``importlib.import_module("x")``) is not
seen; the product has none.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tests.packaging.product_support import PRODUCT_PACKAGES, REPO_ROOT, product_files

# Distributions in [project].dependencies that no module imports, each with the reason it is
# needed all the same. Each entry is checked to be still declared and still unimported, so
# the list cannot go stale. hiredis needs no entry: it is not a dependency of its own but
# the extra of ``redis[hiredis]``, which redis-py picks up by itself as its reply parser.
UNIMPORTED_DEPENDENCIES: dict[str, str] = {
    "sniffio": (
        "httpcore (under firebase-admin's httpx client, api/fcm.py) tries `import sniffio` at"
        " every connection-pool step; without it each failed import scans sys.path, about"
        " 24,000 failed imports to send 2,000 pushes and a quarter of the push worker's CPU"
    ),
}

# Extras for the developers' tools. A deployed install has none of them, so a product module
# must not rely on them.
TOOLING_EXTRAS = frozenset({"test"})

_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_HERE = Path(__file__).relative_to(REPO_ROOT)


def normalise(name: str) -> str:
    """A name as PEP 503 compares it: ``Prometheus_Client`` -> ``prometheus-client``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The distribution of a PEP 508 requirement, without extras, version or markers."""
    match = _REQUIREMENT_NAME.match(requirement)
    assert match, f"pyproject.toml: cannot read the requirement {requirement!r}"
    return normalise(match.group(1))


@dataclass(frozen=True)
class Declared:
    dependencies: frozenset[str]
    extras: dict[str, frozenset[str]]

    def extras_declaring(self, dist: str) -> list[str]:
        return sorted(name for name, dists in self.extras.items() if dist in dists)


def declared() -> Declared:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    return Declared(
        frozenset(requirement_name(r) for r in project.get("dependencies", [])),
        {name: frozenset(requirement_name(r) for r in reqs) for name, reqs in extras.items()},
    )


@dataclass(frozen=True)
class Place:
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO_ROOT)}:{self.line}"


def third_party_imports() -> dict[str, list[Place]]:
    """Top-level module name -> where the product imports it (absolute imports only)."""
    skip = set(sys.stdlib_module_names) | set(PRODUCT_PACKAGES)
    found: dict[str, list[Place]] = defaultdict(list)
    for path in product_files():
        if path.suffix != ".py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue  # not an import, or a relative one (always the product's own)
            for name in names:
                top = name.partition(".")[0]
                if top not in skip:
                    found[top].append(Place(path, node.lineno))
    return dict(found)


@cache
def _installed() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distributions_of(module: str) -> list[str]:
    """The distributions that install ``module`` here, or its name as a guess if none does."""
    return sorted({normalise(d) for d in _installed().get(module, [])}) or [normalise(module)]


def _where(places: list[Place]) -> str:
    more = f" (and {len(places) - 1} more)" if len(places) > 1 else ""
    return f"{places[0]}{more}"


def _installed_version(dist: str) -> str:
    try:
        return f"installed {importlib.metadata.version(dist)}"
    except importlib.metadata.PackageNotFoundError:
        return "not installed here, so the distribution's name is a guess"


def test_every_third_party_import_is_declared() -> None:
    """A plain ``pip install tradeshub`` brings everything the product imports.

    An import declared only in a product extra (say ``sentry_sdk`` in ``sentry``) passes: it
    belongs in code that runs only when that extra is installed, which the wheel test's
    import of every module would catch if it did not.
    """
    imports = third_party_imports()
    assert imports, f"no third-party import found under {PRODUCT_PACKAGES}: is REPO_ROOT right?"
    pyproject = declared()
    problems = []
    for module, places in sorted(imports.items()):
        dists = distributions_of(module)
        if pyproject.dependencies.intersection(dists):
            continue
        product_extras = [
            extra
            for dist in dists
            for extra in pyproject.extras_declaring(dist)
            if extra not in TOOLING_EXTRAS
        ]
        if product_extras:
            continue
        dist = dists[0]
        tooling = [e for d in dists for e in pyproject.extras_declaring(d)]
        if tooling:
            problems.append(
                f"{_where(places)} imports {module} (distribution {dist}), declared only in "
                f"the {', '.join(tooling)} extra, which a deployed install lacks: "
                f"move it to [project].dependencies"
            )
        else:
            problems.append(
                f"{_where(places)} imports {module} (distribution {dist}, "
                f"{_installed_version(dist)}), which pyproject.toml declares nowhere: "
                f'add "{dist}>=..." to [project].dependencies, or to the extra of '
                f"[project.optional-dependencies] whose code alone imports it"
            )
    assert not problems, "\n".join(problems)


def test_every_declared_dependency_is_imported() -> None:
    """Nothing in [project].dependencies is installed for nothing on every deployment."""
    imported: dict[str, list[Place]] = defaultdict(list)
    for module, places in third_party_imports().items():
        for dist in distributions_of(module):
            imported[dist].extend(places)
    dependencies = declared().dependencies
    problems = [
        f"{dist} is in [project].dependencies but no module of {', '.join(PRODUCT_PACKAGES)} "
        f"imports it: remove it from pyproject.toml (if the product needs it without an "
        f"import, e.g. as a plugin another library loads, add it to UNIMPORTED_DEPENDENCIES "
        f"in {_HERE} with the reason)"
        for dist in sorted(dependencies - imported.keys() - UNIMPORTED_DEPENDENCIES.keys())
    ]
    for dist in sorted(UNIMPORTED_DEPENDENCIES):
        if dist not in dependencies:
            problems.append(
                f"UNIMPORTED_DEPENDENCIES in {_HERE} lists {dist}, which [project].dependencies "
                f"no longer declares: remove the entry"
            )
        elif dist in imported:
            problems.append(
                f"UNIMPORTED_DEPENDENCIES in {_HERE} lists {dist}, but {_where(imported[dist])} "
                f"imports it now: remove the entry"
            )
    assert not problems, "\n".join(problems)
