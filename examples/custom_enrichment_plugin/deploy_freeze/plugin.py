"""The ``deploy_freeze`` plugin: recent deployments as facts, plus a ``deployment_problem`` intent.

One module registers several things, each through its own hook:

- the enrichment source type ``deploy_freeze``, which reads a JSON deploy log
  and returns a :class:`~agent.plugin_api.CustomFact` per deployment made within
  ``window_minutes`` before the call;
- the intent ``deployment_problem``, for callers who link their problem to a
  release.

The entry point in ``pyproject.toml`` (group ``voice_agent``) points at this
module; the agent imports it and calls the ``@hookimpl`` functions below.
Everything it uses from the agent comes from :mod:`agent.plugin_api`, the
one module whose names plugins may rely on.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.plugin_api import CustomFact, Intent, PluginContext, hookimpl


class Deployment(BaseModel):
    """One entry of the deploy log."""

    service: str
    version: str
    deployed_at: datetime
    author: str = ""

    @field_validator("deployed_at")
    @classmethod
    def _utc_if_naive(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class DeployLog(BaseModel):
    """The deploy log file: ``{"deployments": [{service, version, deployed_at, author}, ...]}``."""

    deployments: list[Deployment] = Field(default_factory=list)


def read_log(path: Path) -> DeployLog:
    """Read and validate the deploy log; raises ``ValueError`` naming the file."""
    try:
        return DeployLog.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except ValueError as exc:  # json.JSONDecodeError and pydantic.ValidationError are ValueErrors
        raise ValueError(f"deploy log {path}: {exc}") from exc


def ago(minutes: int) -> str:
    if minutes < 1:
        return "less than a minute ago"
    if minutes == 1:
        return "1 minute ago"
    if minutes < 120:
        return f"{minutes} minutes ago"
    return f"{minutes // 60} hours ago"


class DeployFreezeSource:
    """Deployments made shortly before the call, read from a JSON deploy log.

    Flow usage (keys other than ``type`` and ``name`` are validated by ``Config``)::

        enrichment:
          sources:
            - type: deploy_freeze
              path: deploys.json      # relative to the flow file's folder
              window_minutes: 60
    """

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")  # a typo in the flow is reported, not ignored
        path: str = Field(description="The deploy log (JSON), relative to the flow file's folder.")
        window_minutes: int = Field(60, ge=1, le=7 * 24 * 60, description="How far back a deployment counts as recent.")
        disclose: bool = Field(True, description="Whether the agent may tell callers about these deployments.")

    name: str = ""  # empty: the agent names the instance after the flow entry (`name:`, else `type:`)

    def __init__(self, config: Config, context: PluginContext) -> None:
        self.config = config
        self.path = context.base_dir / config.path
        if not self.path.is_file():
            raise FileNotFoundError(f"deploy log {self.path} does not exist")
        read_log(self.path)  # a broken file shows up in `voice-agent flow validate`, not mid-call

    async def fetch(self, call: Any) -> list[CustomFact]:
        # Re-read per call, so a CI job can append to the log without a restart. File reads
        # block, so they run in a thread: a slow disk must not stall other calls.
        log = await asyncio.to_thread(read_log, self.path)
        # The call's clock, not the wall clock: simulated calls (`--at`, a script's `at:`) stay reproducible.
        now = getattr(call, "now", None) or datetime.now(timezone.utc)
        window = timedelta(minutes=self.config.window_minutes)
        facts = []
        for deploy in sorted(log.deployments, key=lambda d: d.deployed_at, reverse=True):
            age = now - deploy.deployed_at
            if not timedelta(0) <= age <= window:
                continue
            minutes = int(age.total_seconds() // 60)
            facts.append(CustomFact(
                text=f"{deploy.service} version {deploy.version} was deployed {ago(minutes)}",
                services=[deploy.service],
                # Who deployed is for the engineer, not the caller: it stays out of `text`.
                data={"version": deploy.version, "deployed_at": deploy.deployed_at.isoformat(),
                      "author": deploy.author, "minutes_ago": minutes},
                disclose=self.config.disclose,
            ))
        return facts


DEPLOYMENT_PROBLEM = Intent(
    name="deployment_problem",
    label="Problem after a deployment",
    description=(
        "The caller ties a problem to a recent release, deployment or update of ours: "
        "something broke or changed right after a new version went out, or they ask for a rollback."
    ),
    examples=[
        "it broke right after your deployment",
        "since your new release this morning checkout fails",
        "you pushed an update and now nothing works",
        "the new version broke our integration",
        "it stopped working after you deployed",
        "can you roll back the last release",
    ],
    keywords=["deployment", "deployed", "deploy", "release", "released", "rollback", "roll back", "new version", "update", "upgrade"],
)


@hookimpl
def register_enrichment_sources(register):
    register("deploy_freeze", DeployFreezeSource)


@hookimpl
def register_intents(register):
    register(DEPLOYMENT_PROBLEM)
