"""The voice-agent command line."""
