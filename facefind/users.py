"""User actions shared by the bot's admin commands and the CLI: one table, one code path."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from facefind.errors import AlreadyDecided
from gallery import Gallery, User

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


async def apply_user_action(
    gallery: Gallery,
    user_id: int,
    action: str,
    actor: str,
    *,
    create: bool = False,
    expect: str | None = None,
) -> User | None:
    """Change a user's status or role; None when there is no such user (and `create` is off).

    The change applies only to the user as they were read here (compare-and-set): of two
    admins deciding at once, one decides and is audited, the other gets AlreadyDecided with the
    user as the first left them. AlreadyDecided too when the action does not apply to the
    user's status (reject: only a pending request; revoke: only an approved user), when they are
    already where it would put them, or when their status is not `expect` (a request's buttons
    decide a pending request only).
    """
    wanted = USER_ACTIONS[action]
    if create:
        await gallery.users.ensure(user_id)
    user = await gallery.users.get(user_id)
    if user is None:
        return None
    if (
        wanted.puts(user)
        or user.status not in wanted.applies_to
        or (expect is not None and user.status != expect)
    ):
        raise AlreadyDecided(user, same=wanted.puts(user))
    changed = await gallery.users.change(
        user_id, actor, seen=user, status=wanted.status, role=wanted.role
    )
    if changed is None:  # another decision came between reading and writing
        now = await gallery.users.get(user_id)
        assert now is not None  # users are never deleted
        raise AlreadyDecided(now, same=wanted.puts(now))
    return changed


def readmitted_at_start(user: User, admin_ids: Collection[int]) -> bool:
    """Whether ADMIN_IDS will make this user an approved admin again at the bot's next start,
    undoing a decision that left them something else."""
    return user.id in admin_ids and not user.is_admin
