"""dynsim's built-in plugins, installed as `dynsim.builtin_plugins`.

They use only dynsim's public API and are registered exactly like third-party plugins.
"""
