"""Prometheus metrics of the server, in a registry of its own (so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls_active = Gauge("voice_agent_calls_active", "Calls with an open media stream or webhook turn.", registry=self.registry)
        self.calls_total = Counter("voice_agent_calls", "Calls that ended, by Twilio's final call status.", ["outcome"], registry=self.registry)
        self.flow_outcomes = Counter(
            "voice_agent_flow_outcomes", "Calls that left the flow, by how (connected, hangup, known_issue, ...).",
            ["outcome"], registry=self.registry,
        )
        self.voice_latency = Histogram(
            "voice_agent_voice_to_voice_seconds", "End of caller speech to the first bot audio sent.",
            buckets=(0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0), registry=self.registry,
        )
        self.model_errors = Counter("voice_agent_model_errors", "Realtime model failures, by kind.", ["kind"], registry=self.registry)
        self.webhook_rejected = Counter("voice_agent_webhooks_rejected", "Requests refused, by reason.", ["reason"], registry=self.registry)
