"""The admin web console: server-rendered aiohttp pages over the service layer's actions."""

from console.app import bound_port, create_app, start
from console.web import STATE, ConsoleState, DecisionNotice

__all__ = ["STATE", "ConsoleState", "DecisionNotice", "bound_port", "create_app", "start"]
