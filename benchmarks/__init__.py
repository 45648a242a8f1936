"""Load benchmarks of the bot server (run on demand: ``python -m benchmarks.run``; not part of pytest)."""
