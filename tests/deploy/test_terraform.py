"""deploy/terraform, offline (provider plugins cannot be downloaded, so no init, validate or
plan): `terraform fmt -check`, checkov with every skip carrying its reason, the variables
and tfvars examples agreeing, and the seed's layout read from the files."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.product_support import REPO_ROOT

TERRAFORM = REPO_ROOT / "deploy" / "terraform"
CHECKOV_VENV = REPO_ROOT / ".tools" / "checkov"  # tests/run.sh installs it there
SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def _tf_files() -> list[Path]:
    return sorted(TERRAFORM.rglob("*.tf"))


def _source() -> str:
    return "\n".join(p.read_text() for p in _tf_files())


def _tool(name: str, *extra: Path) -> str | None:
    path = os.pathsep.join(
        [str(Path(sys.executable).parent), *map(str, extra), os.environ.get("PATH", "")]
    )
    return shutil.which(name, path=path)


def _terraform() -> str:
    found = _tool("terraform")
    if found is None:
        pytest.skip(
            "terraform is not installed and no registry here ships it (Debian does not package "
            "it, PyPI and npm have no current build): fmt is not checked; checkov still parses"
        )
    return found


def test_terraform_fmt_check(tmp_path: Path) -> None:
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(tmp_path / "none.tfrc"), "TF_IN_AUTOMATION": "1"}
    (tmp_path / "none.tfrc").write_text("")
    done = subprocess.run(
        [_terraform(), "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, f"run `terraform fmt -recursive deploy/terraform`:\n{done.stdout}"
    # The examples end in .example, which fmt skips: format them through stdin.
    for example in sorted(TERRAFORM.rglob("*.example")):
        formatted = subprocess.run(
            [_terraform(), "fmt", "-"],
            input=example.read_text(),
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert formatted.returncode == 0, formatted.stderr
        assert formatted.stdout == example.read_text(), f"{example.name} is not terraform fmt'ed"


def test_checkov_passes_with_every_skip_explained() -> None:
    checkov = _tool("checkov", CHECKOV_VENV / "bin")
    if checkov is None:
        pytest.skip(f"checkov is not installed (tests/run.sh installs it into {CHECKOV_VENV})")
    done = subprocess.run(
        [
            checkov,
            "-d",
            str(TERRAFORM),
            "--framework",
            "terraform",
            "--skip-download",
            "--compact",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for r in reports
        for c in r["results"]["failed_checks"]
    ]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports), done.stderr[-3000:]
    passed = sum(r["summary"]["passed"] for r in reports)
    assert passed > 100, f"checkov passed only {passed} checks: did it read the files?"
    for r in reports:
        for check in r["results"]["skipped_checks"]:
            reason = check.get("check_result", {}).get("suppress_comment", "")
            assert len(reason) > 30, f"{check['check_id']} on {check['resource']}: no reason given"
    skipped = sum(len(r["results"]["skipped_checks"]) for r in reports)
    assert skipped == len(SKIP.findall(_source())), "every skip comment should match a check"


def test_every_skip_in_the_code_carries_its_reason() -> None:
    for path in _tf_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = SKIP.search(line)
            if match:
                assert match.group(2) and len(match.group(2).strip()) > 30, (
                    f"{path.name}:{number}: a checkov skip without its reason"
                )


def _declared() -> dict[str, bool]:
    """variable name -> whether it has a default."""
    out: dict[str, bool] = {}
    for block in re.split(r'(?m)^variable "', (TERRAFORM / "variables.tf").read_text())[1:]:
        name = block.split('"', 1)[0]
        out[name] = re.search(r"(?m)^  default\s*=", block) is not None
    return out


def test_variables_and_examples_agree() -> None:
    declared = _declared()
    used = set(re.findall(r"\bvar\.(\w+)", _source()))
    assert used <= set(declared), f"undeclared: {used - set(declared)}"
    assert set(declared) <= used, f"declared, never used: {set(declared) - used}"
    for env in ("staging", "production"):
        text = (TERRAFORM / f"{env}.tfvars.example").read_text()
        keys = set(re.findall(r"(?m)^(\w+)\s*=", text))
        assert keys <= set(declared), f"{env}: unknown variables {keys - set(declared)}"
        required = {n for n, has_default in declared.items() if not has_default}
        assert required <= keys, f"{env}: missing {required - keys}"
        assert f'environment              = "{env}"' in text or f'environment = "{env}"' in re.sub(
            r"\s+", " ", text
        )
        backend = (TERRAFORM / "backend" / f"{env}.s3.tfbackend.example").read_text()
        assert "use_lockfile = true" in backend and "encrypt      = true" in backend
    assert 'backend "s3" {}' in (TERRAFORM / "versions.tf").read_text()


def _resource(kind: str, name: str = "main") -> str:
    match = re.search(rf'(?ms)^resource "{kind}" "{name}" {{\n(.*?)^}}', _source())
    assert match, f"no {kind}.{name}"
    return match.group(1)


def _has(block: str, *settings: str) -> None:
    flat = re.sub(r"[ \t]+", " ", block)
    for setting in settings:
        assert setting in flat, f"missing `{setting}`"


def test_the_seed_layout() -> None:
    assert "length(var.availability_zones) == 3" in _source()
    _has(_resource("aws_eks_node_group"), "subnet_ids = aws_subnet.private[*].id", "scaling_config")
    _has(_resource("aws_eks_cluster"), 'resources = ["secrets"]')
    _has(
        _resource("aws_db_instance"),
        'engine = "postgres"',
        "multi_az = true",
        "storage_encrypted = true",
        "deletion_protection = true",
        "backup_retention_period = var.db_backup_retention_days",
        "publicly_accessible = false",
        "skip_final_snapshot = false",
    )
    _has(
        _resource("aws_elasticache_replication_group"),
        "num_node_groups = var.redis_shards",
        'parameter_group_name = "default.redis7.cluster.on"',
        "transit_encryption_enabled = true",
        "auth_token = random_password.redis_auth.result",
        "at_rest_encryption_enabled = true",
        "automatic_failover_enabled = true",
    )
    _has(
        _resource("aws_s3_bucket_public_access_block"),
        "block_public_acls = true",
        "block_public_policy = true",
        "ignore_public_acls = true",
        "restrict_public_buckets = true",
    )
    _has(
        _resource("aws_s3_bucket_server_side_encryption_configuration"), 'sse_algorithm = "aws:kms"'
    )
    _has(_resource("aws_acm_certificate", "api"), 'validation_method = "DNS"')
    assert 'data "aws_route53_zone" "main"' in _source()
