"""User actions shared by the bot's admin commands and the CLI: one table, one code path."""

from __future__ import annotations

from gallery import Gallery, User

# action -> (what changes, new value)
USER_ACTIONS: dict[str, tuple[str, str]] = {
    "approve": ("status", "approved"),
    "reject": ("status", "rejected"),
    "revoke": ("status", "revoked"),
    "promote": ("role", "admin"),
    "demote": ("role", "officer"),
}
# what an admin may not do to their own account (locking themselves out)
NOT_ON_ONESELF = frozenset({"reject", "revoke", "demote"})


async def apply_user_action(
    gallery: Gallery, user_id: int, action: str, actor: str, *, create: bool = False
) -> User | None:
    """Change a user's status or role; None when there is no such user (and `create` is off).

    Promoting also approves: an admin must be approved, and this is how the first admin is made.
    """
    kind, value = USER_ACTIONS[action]
    if kind == "status":
        return await gallery.set_user_status(user_id, value, actor, create=create)
    user = await gallery.set_user_role(user_id, value, actor, create=create)
    if user is not None and value == "admin" and user.status != "approved":
        user = await gallery.set_user_status(user_id, "approved", actor)
    return user
