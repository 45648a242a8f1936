"""Built-in plugins: imported and registered by the agent itself (agent.core.registry.BUILTIN_PLUGINS).

They are written like third-party plugins and import only the plugin API (:mod:`agent.plugin_api`).
"""
