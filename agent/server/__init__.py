"""The Twilio bot server: webhooks, the media WebSocket, health and metrics."""
