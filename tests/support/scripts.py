"""The scripts of loadtests/ (a folder of scripts, not a package), loaded for the tests that
run them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

LOADTESTS = Path(__file__).resolve().parents[2] / "loadtests"


def load_script(name: str, module_name: str | None = None) -> ModuleType:
    """``loadtests/<name>.py`` as module ``module_name`` (default ``name``).

    Registered in ``sys.modules`` before it runs, since dataclasses look their module up by
    name; taken out again if it fails to load.
    """
    spec = importlib.util.spec_from_file_location(module_name or name, LOADTESTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module
