"""Builders of per-call Pipecat pipelines."""
