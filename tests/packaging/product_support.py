"""The product as the packaging tests see it: its top-level packages in a source tree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# The top-level packages the wheel installs (STYLE.md "Layout"). Only these names are fixed
# here: the modules and data files inside them are discovered, so the packaging tests follow
# any reorganisation of the subpackages.
PRODUCT_PACKAGES = ("api", "hub", "geo", "migrations")


def product_files(root: Path = REPO_ROOT) -> Iterator[Path]:
    """Every file under the product packages in ``root``, bytecode caches left out."""
    for package in PRODUCT_PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                yield path
