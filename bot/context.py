"""Typed access to the objects every handler shares, instead of string keys in bot_data."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import procrastinate
from telegram.ext import Application, CallbackContext, ExtBot

from bot.delivery.notify import RequestNotifier
from bot.metrics import Metrics
from facefind.runtime.settings import Settings
from facefind.service import FaceFind
from gallery import User

if TYPE_CHECKING:
    from bot.delivery.inbox import Inbox

STATE_KEY = "facefind"


@dataclass
class BotState:
    """Shared by all handlers; created once at start-up."""

    settings: Settings
    service: FaceFind
    metrics: Metrics = field(default_factory=Metrics)
    # one lock per user: the rate-limit check and the lookup insert happen together
    user_locks: dict[int, asyncio.Lock] = field(default_factory=dict)
    ready: bool = False
    # access-request notifications to admins, throttled (set once the bot exists)
    requests: RequestNotifier | None = None
    # set by BotRunner before any update is handled
    inbox: Inbox = field(init=False)
    queue: procrastinate.App = field(init=False)

    def user_lock(self, user_id: int) -> asyncio.Lock:
        return self.user_locks.setdefault(user_id, asyncio.Lock())


class BotContext(CallbackContext[ExtBot[None], dict, dict, dict]):
    """PTB context with the shared state and the sender's current record.

    PTB builds one context per update and passes it to every handler group, so the gatekeeper
    in group -1 can leave the sender's `User` here for the handlers in group 0.
    """

    def __init__(
        self,
        application: Application,
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.sender: User | None = None
        self.lang: str = "en"

    @property
    def state(self) -> BotState:
        state: BotState = self.bot_data[STATE_KEY]
        return state

    @property
    def service(self) -> FaceFind:
        return self.state.service
