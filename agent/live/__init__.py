"""Live calls: flows rendered as TwiML, continued through signed webhooks."""
