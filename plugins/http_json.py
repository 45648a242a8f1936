"""The ``http_json`` source: any internal JSON endpoint turned into facts by a mapping in the flow.

Teams plug in their own health or incident systems without writing code::

    - type: http_json
      url: https://health.internal/api/status
      headers: {Authorization: "env:HEALTH_API_TOKEN"}   # env:NAME reads a secret from the environment
      facts:
        - kind: service_state
          items: services                                # dotted path to a list in the answer
          fields: {service: name, status: state}         # fact field -> key in each item (dotted)
          values: {status: {ok: operational, slow: degraded, down: major_outage}}
        - kind: open_incident
          items: data.incidents
          fields: {title: summary, status: status, services: components, started_at: opened}
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from agent.plugin_api import Fact, PluginContext, hookimpl

_facts = TypeAdapter(Fact)


class FactMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["service_state", "open_incident", "maintenance_window", "status_page", "custom"]
    items: str = Field(description="Dotted path to the list of records ('' = the answer itself).")
    fields: dict[str, str] = Field(description="Fact field -> dotted key inside one record.")
    values: dict[str, dict[str, str]] = Field(default_factory=dict, description="Per fact field: record value -> fact value.")


class HttpJsonError(RuntimeError):
    pass


def _path(data: Any, path: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


class HttpJsonSource:
    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        url: str
        headers: dict[str, str] = Field(default_factory=dict)
        facts: list[FactMapping] = Field(min_length=1)
        disclose: bool = True

    cache_ttl_s = 15.0

    def __init__(self, config: Config, context: PluginContext) -> None:
        self.config = config
        self.context = context
        self.timeout = context.settings.http_timeout_s

    def _headers(self) -> dict[str, str]:
        headers = {}
        for name, value in self.config.headers.items():
            if value.startswith("env:"):
                secret = os.environ.get(value[4:])
                if secret is None:
                    raise HttpJsonError(f"header {name}: environment variable {value[4:]} is not set")
                value = secret
            headers[name] = value
        return headers

    async def fetch(self, call: Any) -> list[Fact]:
        async with self.context.http_client(timeout=self.timeout) as client:
            response = await client.get(self.config.url, headers=self._headers())
        if response.status_code >= 400:
            raise HttpJsonError(f"{self.config.url} answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise HttpJsonError(f"{self.config.url} did not answer JSON") from exc
        facts: list[Fact] = []
        for mapping in self.config.facts:
            records = _path(data, mapping.items)
            for record in records if isinstance(records, list) else []:
                values = {field: _path(record, key) for field, key in mapping.fields.items()}
                for field, table in mapping.values.items():
                    if values.get(field) is not None:
                        values[field] = table.get(str(values[field]), values[field])
                values = {k: v for k, v in values.items() if v is not None}
                try:
                    facts.append(_facts.validate_python({**values, "kind": mapping.kind, "disclose": self.config.disclose}))
                except ValidationError:
                    continue  # one odd record must not cost the others
        return facts


@hookimpl
def register_enrichment_sources(register):
    register("http_json", HttpJsonSource)
