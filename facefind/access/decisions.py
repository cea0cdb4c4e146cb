"""Decisions on users (approve, reject, revoke, promote, demote) and the user list: one code path
for the bot's buttons and commands, the CLI and the console, each audited where it is made."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from facefind.access.actors import Requester
from facefind.access.rules import require_admin
from facefind.errors import AlreadyDecided, FaceFindError
from facefind.user_input import parse_id
from gallery import Gallery, User, UserActivity

logger = logging.getLogger(__name__)

# who ADMIN_IDS acts as in the audit log and in `decided_by`
ADMIN_IDS_ACTOR = "config:ADMIN_IDS"


@dataclass(frozen=True)
class UserAction:
    """What an action sets (None: left as it is), and the statuses it applies to."""

    status: str | None = None
    role: str | None = None
    applies_to: frozenset[str] = frozenset({"pending", "approved", "rejected", "revoked"})

    def puts(self, user: User) -> bool:
        """Whether the user is already where this action would put them."""
        return self.status in (None, user.status) and self.role in (None, user.role)


USER_ACTIONS: dict[str, UserAction] = {
    # also re-admits a user who was rejected or revoked
    "approve": UserAction(status="approved"),
    # a request: once approved, access is withdrawn with revoke
    "reject": UserAction(status="rejected", applies_to=frozenset({"pending"})),
    "revoke": UserAction(status="revoked", applies_to=frozenset({"approved"})),
    # an admin must be approved: this is also how the first admin is made
    "promote": UserAction(status="approved", role="admin"),
    "demote": UserAction(role="officer"),
}
# what an admin may not do to their own account (locking themselves out)
NOT_ON_ONESELF = frozenset({"reject", "revoke", "demote"})


class NotOnOneself(FaceFindError):
    """An admin would lock themselves out (reject, revoke or demote their own account)."""

    code = "not_on_oneself"


class UserDecisions:
    """Who may use the service: the decisions admins take on users, and the list of users."""

    def __init__(self, gallery: Gallery) -> None:
        self.gallery = gallery

    async def decide(
        self,
        user_id: int,
        action: str,
        requester: Requester,
        *,
        create: bool = False,
        expect: str | None = None,
    ) -> User | None:
        """Apply `action` (a key of USER_ACTIONS) to a user; None when there is no such user
        (and `create` is off). Admins only (NotAllowed); NotOnOneself for an admin's own
        reject, revoke or demote.

        The change applies only to the user as they were read here (compare-and-set): of two
        admins deciding at once, one decides and is audited, the other gets AlreadyDecided with
        the user as the first left them. AlreadyDecided too when the action does not apply to
        the user's status (reject: only a pending request; revoke: only an approved user), when
        they are already where it would put them, or when their status is not `expect` (a
        request's buttons decide a pending request only).
        """
        decided = await self.decision(user_id, action, requester, create=create, expect=expect)
        return decided[1] if decided else None

    async def decision(
        self,
        user_id: int,
        action: str,
        requester: Requester,
        *,
        create: bool = False,
        expect: str | None = None,
    ) -> tuple[User, User] | None:
        """`decide`, returning the user as they were just before the change and after it: what
        a front end tells them (a new status, a new menu) depends on both."""
        require_admin(requester)
        if user_id == requester.user_id and action in NOT_ON_ONESELF:
            raise NotOnOneself(f"{action} on one's own account")
        wanted = USER_ACTIONS[action]
        users = self.gallery.users
        if create:
            await users.ensure(user_id)
        user = await users.get(user_id)
        if user is None:
            return None
        if (
            wanted.puts(user)
            or user.status not in wanted.applies_to
            or (expect is not None and user.status != expect)
        ):
            raise AlreadyDecided(user, same=wanted.puts(user))
        changed = await users.change(
            user_id, requester.actor, seen=user, status=wanted.status, role=wanted.role
        )
        if changed is None:  # another decision came between reading and writing
            now = await users.get(user_id)
            assert now is not None  # users are never deleted
            raise AlreadyDecided(now, same=wanted.puts(now))
        return user, changed

    async def listing(self, requester: Requester, status: str | None = None) -> list[User]:
        """The users (of one status), for an admin; who looked at the list of people is part
        of the record, like every admin view."""
        require_admin(requester)
        found = await self.gallery.users.all(status)
        await self.gallery.audit.append(
            requester.actor, "users.list", None, {"status": status, "rows": len(found)}
        )
        return found

    async def roster(self, requester: Requester, status: str | None = None) -> list[UserActivity]:
        """The users (of one status) with their lookup counts and last activity, for an admin
        (the console's /users); audited as `users.list` like the list itself."""
        require_admin(requester)
        found = await self.gallery.users.activity(status)
        await self.gallery.audit.append(
            requester.actor,
            "users.list",
            None,
            {"status": status, "rows": len(found), "activity": True},
        )
        return found

    async def decider(self, user: User) -> User | str | None:
        """Who made the last decision on a user: the admin's record when it was a Telegram
        user the gallery knows, else the actor as recorded (cli:login, config:ADMIN_IDS); None
        when nobody decided yet."""
        actor = user.decided_by
        if actor is None:
            return None
        admin_id = parse_id(actor.removeprefix("tg:")) if actor.startswith("tg:") else None
        admin = await self.gallery.users.get(admin_id) if admin_id is not None else None
        return admin if admin is not None else actor

    async def ensure_admins(self, admin_ids: Collection[int]) -> None:
        """Make every user in ADMIN_IDS an approved admin, saying so when that undoes a
        decision someone took on them since (the setting wins at every start)."""
        users = self.gallery.users
        for admin_id in admin_ids:
            user = await users.get(admin_id)
            if user is not None and user.is_admin:
                continue
            if user is not None and user.decided_by not in (None, ADMIN_IDS_ACTOR):
                logger.warning(
                    "ADMIN_IDS makes user %s an approved admin again, undoing the last decision "
                    "on them (%s, %s, by %s at %s): remove them from ADMIN_IDS to keep it",
                    admin_id,
                    user.role,
                    user.status,
                    user.decided_by,
                    f"{user.decided_at:%Y-%m-%d %H:%M}" if user.decided_at else "?",
                )
            await users.set_role(admin_id, "admin", ADMIN_IDS_ACTOR, create=True)
            await users.set_status(admin_id, "approved", ADMIN_IDS_ACTOR)


def readmitted_at_start(user: User, admin_ids: Collection[int]) -> bool:
    """Whether ADMIN_IDS will make this user an approved admin again at the bot's next start,
    undoing a decision that left them something else."""
    return user.id in admin_ids and not user.is_admin
