"""Contract and core types: the call and its outcome, facts, gathers, intents, settings, the plugin registry."""
