"""The deployment files stay in step with the code: real settings, nothing sticky."""

from __future__ import annotations

import re
from pathlib import Path

from ruamel.yaml import YAML

from agent.core.registry import load_registry

DEPLOY = Path(__file__).parent.parent / "deploy"


def documents(path: Path) -> list[dict]:
    return [d for d in YAML(typ="safe").load_all(path.read_text()) if d]


def setting_names() -> set[str]:
    """The agent's settings and its built-in plugins' own (ilert's and PagerDuty's keys)."""
    return set(load_registry(use_entry_points=False).environment_variables())


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
            kinds[doc["kind"], doc["metadata"]["name"]] = doc
    assert {"Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= {k for k, _ in kinds}
    assert all("sessionAffinity" not in doc["spec"] for (kind, _), doc in kinds.items() if kind == "Service")
    agent = kinds["Deployment", "voice-agent"]
    container = agent["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert agent["spec"]["replicas"] > 1


def test_the_replicas_share_one_redis_that_persists_nothing():
    [compose] = documents(DEPLOY / "compose.yaml")
    state_urls = {compose["services"]["agent"]["environment"]["VOICE_AGENT_STATE_URL"]}
    env = {e["name"]: e.get("value") for e in documents(DEPLOY / "kubernetes" / "deployment.yaml")[0]["spec"]["template"]["spec"]["containers"][0]["env"]}
    state_urls.add(env["VOICE_AGENT_STATE_URL"])
    assert all(url.startswith("redis://") for url in state_urls)
    redis_args = " ".join(compose["services"]["redis"]["command"]) + " " + " ".join(
        documents(DEPLOY / "kubernetes" / "redis.yaml")[0]["spec"]["template"]["spec"]["containers"][0]["args"])
    assert redis_args.count('--appendonly no') == 2 and redis_args.count("--save") == 2


def test_the_compose_file_scales_the_agent_behind_a_websocket_aware_balancer():
    [compose] = documents(DEPLOY / "compose.yaml")
    assert set(compose["services"]) == {"agent", "balancer", "redis"}
    nginx = "\n".join(line.split("#")[0] for line in (DEPLOY / "nginx.conf").read_text().splitlines())
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx and "ip_hash" not in nginx and "sticky" not in nginx
