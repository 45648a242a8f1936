"""Our Pipecat frame processors: only what Pipecat itself lacks."""
