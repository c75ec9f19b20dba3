"""A plain install runs, as a deployer would see it.

The wheel is built from a copy of the source as git sees it (tracked files plus untracked
ones that are not ignored), so nothing from .venv, var/ or build/ leaks in. It is installed
with its dependencies into a fresh venv, and everything then runs from an empty folder with
no PYTHONPATH and nothing in the environment that points at this checkout: the installed
product must find its modules, SQL and static files in its own install.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD, unique_email
from tests.packaging.product_support import PRODUCT_PACKAGES, REPO_ROOT, product_files
from tests.support.processes import HubProcess, PostgresProcess

pytestmark = pytest.mark.slow

PROBE = Path(__file__).with_name("installed_probe.py")
INSTALL_TIMEOUT_S = 300
START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 30
TAIL = 6000  # characters of a process's output shown in a failure


def _tail(text: str) -> str:
    return text if len(text) <= TAIL else f"[...]\n{text[-TAIL:]}"


def deployer_env(**extra: str) -> dict[str, str]:
    """What a deployer's shell has: no PYTHON* variable, none of the hub's settings from the
    test run, and nothing that points at this checkout or its .venv."""
    repo = str(REPO_ROOT)
    keep = {"HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "USER", "LOGNAME", "TZ"}
    env = {
        key: value
        for key, value in os.environ.items()
        if (key in keep or key.startswith("PIP_") or key.lower().endswith("_proxy"))
        and repo not in value
    }
    env["PATH"] = os.pathsep.join(
        p for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep) if repo not in p
    )
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return {**env, **extra}


def run(
    cmd: list[str | Path], cwd: Path, timeout: float, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in the deployer's environment (plus ``env``); fail with its output if it
    exits non-zero."""
    try:
        done = subprocess.run(
            [str(c) for c in cmd],
            cwd=cwd,
            env=deployer_env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`{' '.join(map(str, cmd))}` took over {timeout:.0f} s:\n{exc.output!r}")
    if done.returncode != 0:
        pytest.fail(
            f"`{' '.join(map(str, cmd))}` exited {done.returncode}:\n"
            f"{_tail(done.stdout)}\n{_tail(done.stderr)}"
        )
    return done


@dataclass(frozen=True)
class Install:
    """A fresh venv with the wheel installed, and what the source it was built from held."""

    bin: Path
    scratch: Path
    packages: list[str]  # the product packages that are Python packages in the source
    # path under site-packages -> size, for each product file (kept out of failure reports)
    source_files: dict[str, int] = field(repr=False)

    def empty_dir(self, prefix: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.scratch))


def _copy_source(dest: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if not source.is_file():
            continue  # deleted in the work tree but still in the index (a move under way)
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest / name)


@pytest.fixture(scope="module")
def install() -> Iterator[Install]:
    # Not under pytest's tmp_path: each pytest session that starts takes the group and other
    # bits off /tmp/pytest-of-<user>, and as root the embedded PostgreSQL runs as another
    # user that must reach its data folder, so a concurrent test run could lock it out.
    root = Path(tempfile.mkdtemp(prefix="th-wheel-"))
    try:
        source, wheels, venv = root / "source", root / "wheels", root / "venv"
        _copy_source(source)
        packages = [p for p in PRODUCT_PACKAGES if (source / p / "__init__.py").is_file()]
        files = {
            path.relative_to(source).as_posix(): path.stat().st_size
            for path in product_files(source)
            if path.relative_to(source).parts[0] in packages
        }
        # With build isolation: pip installs pyproject.toml's build-system requirements, as a
        # deployer's pip would (.venv's setuptools, from ensurepip, is older than they ask and
        # has no bdist_wheel). ``source`` is absolute: pip reads a bare name as a project to
        # fetch from the index.
        run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, source],
            cwd=root,
            timeout=INSTALL_TIMEOUT_S,
        )
        shutil.rmtree(source)
        built = sorted(wheels.glob("*.whl"))
        assert len(built) == 1, f"pip wheel made {built}, expected one wheel"

        # From .venv's python, venv uses the base interpreter: the new venv sees nothing of .venv.
        run([sys.executable, "-m", "venv", venv], cwd=root, timeout=120)
        run(
            [venv / "bin" / "python", "-m", "pip", "install", "-q", built[0]],
            cwd=root,
            timeout=INSTALL_TIMEOUT_S,
        )
        yield Install(venv / "bin", root, packages, files)
    finally:
        shutil.rmtree(root, ignore_errors=True)  # a venv with numpy and PostgreSQL is large


@pytest.fixture(scope="module")
def probe(install: Install) -> dict[str, Any]:
    """installed_probe.py's report, run by the new venv's python from an empty folder."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    ask = json.dumps({"dist": project["name"], "packages": install.packages})
    done = run(
        [install.bin / "python", "-c", PROBE.read_text("utf-8"), ask],
        cwd=install.empty_dir("probe-"),
        timeout=120,
    )
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_the_wheel_carries_every_file_of_the_product_packages(
    install: Install, probe: dict[str, Any]
) -> None:
    """Every module and data file of the source reaches the install: none is left out by a
    hand-kept package list."""
    missing = sorted(install.source_files.keys() - set(probe["files"]))
    assert not missing, (
        f"the wheel lacks {len(missing)} file(s) of the source's product packages (is the "
        f"package discovery or package-data of pyproject.toml leaving them out?):\n"
        + "\n".join(missing)
    )


def test_every_module_imports_from_the_install(probe: dict[str, Any]) -> None:
    """Every module of the installed product imports, and from the venv, not this checkout."""
    failed = probe["failures"]
    assert not failed, (
        f"{len(failed)} module(s) of the installed product failed to import:\n"
        + "\n".join(f"{name}: {tb.strip().splitlines()[-1]}" for name, tb in sorted(failed.items()))
        + f"\n\nthe first traceback:\n{next(iter(failed.values()))}"
    )
    modules: dict[str, str] = probe["modules"]
    assert "api.__main__" in modules  # the `tradeshub` command's module, so the walk went deep
    purelib = Path(probe["purelib"])
    elsewhere = {
        name: path for name, path in modules.items() if not Path(path).is_relative_to(purelib)
    }
    assert not elsewhere, (
        f"of the {len(modules)} modules imported, these were not read from the venv's "
        f"{purelib}: {elsewhere}"
    )


def _check_data(install: Install, probe: dict[str, Any], package: str) -> dict[str, int]:
    """The package's data files as the install reads them; each must match the source's."""
    assert package not in probe["data_failures"], probe["data_failures"][package]
    read: dict[str, int] = {f"{package}/{p}": size for p, size in probe["data"][package].items()}
    expected = {
        path: size
        for path, size in install.source_files.items()
        if path.startswith(f"{package}/") and not path.endswith(".py")
    }
    differ = {p: (size, read.get(p)) for p, size in expected.items() if read.get(p) != size}
    assert not differ, (
        f"data files of {package} that importlib.resources cannot read from the install, or "
        f"reads at another size (source size, installed size): {differ}"
    )
    return read


def test_static_files_read_through_importlib_resources(
    install: Install, probe: dict[str, Any]
) -> None:
    """The tracking page's HTML, CSS and JS (and any other data file) ship in the wheel."""
    read: dict[str, int] = {}
    for package in install.packages:
        if package != "migrations":  # the next test, which may skip
            read.update(_check_data(install, probe, package))
    pages = [p for p in read if p.startswith("hub/") and p.endswith(".html")]
    assert pages, f"no HTML page (the tracking page) among the installed hub files: {read}"


def test_migrations_read_through_importlib_resources(
    install: Install, probe: dict[str, Any]
) -> None:
    if "migrations" not in install.packages:
        pytest.skip(
            "migrations/ is not a Python package yet (no migrations/__init__.py): its .sql "
            "files can ship as package data only once the move to the `migrations` package "
            "has landed"
        )
    read = _check_data(install, probe, "migrations")
    assert any(p.endswith(".sql") for p in read), (
        f"no .sql file in the installed migrations: {read}"
    )


class InstalledHub(HubProcess):
    """``tradeshub serve`` of the new venv on the embedded PostgreSQL under ``data_dir``,
    started from an empty folder in the deployer's environment."""

    def __init__(self, install: Install, data_dir: Path) -> None:
        super().__init__(deployer_env(TRADESHUB_DATA_DIR=str(data_dir)), install.empty_dir("logs-"))
        self.command = [str(install.bin / "tradeshub"), "serve", "--port", str(self.port)]
        self.cwd = install.empty_dir("cwd-")
        self.data_dir = data_dir

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command, env=self.env, cwd=self.cwd, stdout=log, stderr=log
            )


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(url: str, body: dict[str, Any] | None = None, token: str | None = None) -> tuple[int, Any]:
    """GET (or POST ``body`` as JSON) ``url``; the status and the decoded JSON answer."""
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _NO_PROXY.open(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _wait_healthy(hub: InstalledHub) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if not hub.alive():
            assert hub.proc is not None
            pytest.fail(
                f"`tradeshub serve` exited {hub.proc.poll()} before /health answered:\n"
                f"{_tail(hub.log())}"
            )
        try:
            if call(f"{hub.url}/health")[0] == 200:
                return
        except OSError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            pytest.fail(f"no 200 from /health within {START_TIMEOUT_S} s:\n{_tail(hub.log())}")
        time.sleep(0.2)


@contextmanager
def serving(install: Install, data_dir: Path) -> Iterator[InstalledHub]:
    """A hub answering /health; killed on the way out if the test did not stop it."""
    hub = InstalledHub(install, data_dir)
    try:
        hub.start()
        _wait_healthy(hub)
        yield hub
    finally:
        hub.kill()
        PostgresProcess(data_dir).stop()  # the embedded cluster, should the hub have left it


def stop_cleanly(hub: InstalledHub) -> None:
    """SIGTERM, as an orchestrator stops a pod: the hub exits 0 in time with no traceback,
    stops its embedded PostgreSQL, and has written nothing where it was started."""
    assert hub.proc is not None
    os.kill(hub.proc.pid, signal.SIGTERM)
    try:
        code = hub.proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {STOP_TIMEOUT_S} s after SIGTERM:\n{_tail(hub.log())}")
    log = hub.log()
    assert code == 0, f"`tradeshub serve` exited {code} on SIGTERM:\n{_tail(log)}"
    assert "Traceback" not in log, _tail(log)
    assert not (hub.data_dir / "pgdata" / "postmaster.pid").exists(), "PostgreSQL still runs"
    assert not list(hub.cwd.iterdir()), "the hub wrote into the folder it was started from"


def test_a_fresh_install_serves_signs_up_and_stops(install: Install) -> None:
    """The deployer's first run on an empty data folder: serve (the hub migrates the embedded
    PostgreSQL itself), sign up and log in over REST, stop."""
    with serving(install, install.empty_dir("data-")) as hub:
        status, body = call(f"{hub.url}/ready")
        assert status == 200, body
        creds = {"email": unique_email("deployer"), "password": PASSWORD}
        signup = {**creds, "name": "First Customer", "role": "customer"}
        status, body = call(f"{hub.url}/api/v1/auth/register", signup)
        assert status == 201, body
        status, body = call(f"{hub.url}/api/v1/auth/login", creds)
        assert status == 200, body
        status, trades = call(f"{hub.url}/api/v1/trades", token=body["access_token"])
        assert status == 200, trades
        assert isinstance(trades, list), trades
        stop_cleanly(hub)


def test_seed_fills_the_catalogue_the_api_lists(install: Install) -> None:
    """``tradeshub seed`` on the same data folder, then serve: the trades are listed."""
    data_dir = install.empty_dir("data-")
    seeded = run(
        [install.bin / "tradeshub", "seed"],
        cwd=install.empty_dir("cwd-"),
        timeout=180,
        TRADESHUB_DATA_DIR=str(data_dir),
    )
    output = f"{seeded.stdout}\n{seeded.stderr}"
    assert "Traceback" not in output, output
    with serving(install, data_dir) as hub:
        status, trades = call(f"{hub.url}/api/v1/trades")
        assert status == 200, trades
        assert trades, f"no trade listed after `tradeshub seed` said:\n{seeded.stdout}"
        assert all(t["slug"] and t["name"] for t in trades), trades
        stop_cleanly(hub)
