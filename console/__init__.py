"""The admin web console: server-rendered aiohttp pages over the service layer's actions."""

from console.app import STATE, ConsoleState, bound_port, create_app, start

__all__ = ["STATE", "ConsoleState", "bound_port", "create_app", "start"]
