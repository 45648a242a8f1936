"""The deployment files stay in step with the code: real settings, nothing sticky."""

from __future__ import annotations

import re
from pathlib import Path

from ruamel.yaml import YAML

from agent.settings import Settings

DEPLOY = Path(__file__).parent.parent / "deploy"


def documents(path: Path) -> list[dict]:
    return [d for d in YAML(typ="safe").load_all(path.read_text()) if d]


def setting_names() -> set[str]:
    return {f"VOICE_AGENT_{name.upper()}" for name in Settings.model_fields}


def test_every_variable_in_the_env_example_and_manifests_is_a_real_setting():
    names = set(re.findall(r"VOICE_AGENT_[A-Z0-9_]+", (DEPLOY / "env.example").read_text()))
    names |= set(re.findall(r"VOICE_AGENT_[A-Z0-9_]+", (DEPLOY / "Dockerfile").read_text()))
    for manifest in (DEPLOY / "kubernetes").glob("*.yaml"):
        names |= set(re.findall(r"VOICE_AGENT_[A-Z0-9_]+", manifest.read_text()))
    assert names and names <= setting_names(), names - setting_names()


def test_the_kubernetes_manifests_parse_and_nothing_is_sticky():
    kinds = {}
    for manifest in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for doc in documents(manifest):
            kinds[doc["kind"]] = doc
    assert {"Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= set(kinds)
    assert "sessionAffinity" not in kinds["Service"]["spec"]
    container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert kinds["Deployment"]["spec"]["replicas"] > 1


def test_the_compose_file_scales_the_agent_behind_a_websocket_aware_balancer():
    [compose] = documents(DEPLOY / "compose.yaml")
    assert set(compose["services"]) == {"agent", "balancer"}
    nginx = "\n".join(line.split("#")[0] for line in (DEPLOY / "nginx.conf").read_text().splitlines())
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx and "ip_hash" not in nginx and "sticky" not in nginx
