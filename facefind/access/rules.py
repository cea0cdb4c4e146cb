"""Who may do what: the access rules every front end applies the same way (the bot, the
console), checked again inside the service actions they guard."""

from __future__ import annotations

from facefind.access.actors import Requester
from facefind.errors import FaceFindError
from gallery import CandidateRef, Lookup, User


class NotAllowed(FaceFindError):
    """The requester may not do this; the front end answers with its refusal."""

    code = "not_allowed"


def may_administer(user: User | None) -> bool:
    """An approved admin right now (the front ends read the record on every request)."""
    return user is not None and user.is_admin


def require_admin(requester: Requester) -> None:
    if not requester.admin:
        raise NotAllowed(f"{requester.actor} is not an admin")


def may_see_lookup(requester: Requester, lookup: Lookup) -> bool:
    """Admins see any lookup, officers their own."""
    return requester.admin or (
        requester.user_id is not None and lookup.user_id == requester.user_id
    )


def may_judge_candidate(requester: Requester, candidate: CandidateRef) -> bool:
    """Feedback on a candidate: from whoever asked for the lookup, or an admin."""
    return requester.admin or (
        requester.user_id is not None and candidate.user_id == requester.user_id
    )
