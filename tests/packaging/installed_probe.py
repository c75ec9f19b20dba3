"""Run by test_wheel.py inside a fresh install (as ``python -c``), never imported by pytest.

Usage: ``python -c <this file's text> '{"dist": "tradeshub", "packages": ["api", "hub"]}'``.
Imports every module of the given packages and reads every data file in them through
``importlib.resources``, as an installed product would, then prints one JSON object as the
last line on stdout:

- ``purelib``: the install's site-packages;
- ``files``: the files the distribution installed (its RECORD), relative to ``purelib``;
- ``modules``: module name -> its ``__file__``, for each module that imported;
- ``failures``: module name -> traceback, for each module that did not;
- ``data``: package -> {path inside the package: size in bytes} of its non-Python files;
- ``data_failures``: package -> traceback, where its files could not be listed or read.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import json
import pkgutil
import sys
import sysconfig
import traceback
from importlib.resources.abc import Traversable


def import_all(package: str, modules: dict[str, str], failures: dict[str, str]) -> None:
    try:
        root = importlib.import_module(package)
    except Exception:
        failures[package] = traceback.format_exc()
        return
    modules[package] = str(root.__file__)

    def onerror(name: str) -> None:  # a subpackage that walk_packages could not import
        failures[name] = traceback.format_exc()

    for info in pkgutil.walk_packages(root.__path__, f"{package}.", onerror=onerror):
        try:
            module = importlib.import_module(info.name)
        except Exception:
            failures[info.name] = traceback.format_exc()
        else:
            modules[info.name] = str(module.__file__)


def data_files(folder: Traversable, prefix: str = "") -> dict[str, int]:
    found: dict[str, int] = {}
    for entry in folder.iterdir():
        if entry.is_dir():
            if entry.name != "__pycache__":
                found.update(data_files(entry, f"{prefix}{entry.name}/"))
        elif not entry.name.endswith((".py", ".pyc")):
            found[f"{prefix}{entry.name}"] = len(entry.read_bytes())
    return found


def main(dist: str, packages: list[str]) -> None:
    modules: dict[str, str] = {}
    failures: dict[str, str] = {}
    data: dict[str, dict[str, int]] = {}
    data_failures: dict[str, str] = {}
    for package in packages:
        import_all(package, modules, failures)
        try:
            data[package] = data_files(importlib.resources.files(package))
        except Exception:
            data_failures[package] = traceback.format_exc()
    report = {
        "purelib": sysconfig.get_paths()["purelib"],
        "files": [str(path) for path in importlib.metadata.files(dist) or []],
        "modules": modules,
        "failures": failures,
        "data": data,
        "data_failures": data_failures,
    }
    # On a line of its own: a module that printed while importing must not spoil the report.
    sys.stdout.write(f"\n{json.dumps(report)}\n")


if __name__ == "__main__":
    request = json.loads(sys.argv[1])
    main(request["dist"], request["packages"])
