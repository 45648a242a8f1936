"""The conversation in an AI agent node: its session, tools, engines, value extraction, intent matching, prompt, briefing."""
