"""Twilio's published contracts: the REST API spec (trimmed), the documented limits, and their checks (``rest``)."""
