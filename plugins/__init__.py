"""Built-in plugins, registered through the same ``voice_agent`` entry points as third-party ones."""
