"""Domain errors: the front ends turn each into a friendly reply; `code` is stable."""

from __future__ import annotations

from gallery import Identity, User


class FaceFindError(Exception):
    """A domain error the front ends turn into a friendly reply. `code` is stable."""

    code = "error"


class NoFaceFound(FaceFindError):
    code = "no_face"


class AmbiguousFaces(FaceFindError):
    """Several faces and none is clearly the one the photo is for; the caller must choose."""

    code = "ambiguous_faces"

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} faces and none clearly the subject: choose one")
        self.count = count


class FaceIndexOutOfRange(FaceFindError):
    code = "face_index"

    def __init__(self, index: int, count: int) -> None:
        super().__init__(f"face #{index} asked for, photo has {count}")
        self.index = index
        self.count = count


class EnrollRefused(FaceFindError):
    """The face cannot be embedded meaningfully (tiny, a full profile)."""

    code = "enroll_refused"

    def __init__(self, reasons: tuple[str, ...]) -> None:
        super().__init__("face not usable as a reference: " + ", ".join(reasons))
        self.reasons = reasons


class PoorReference(FaceFindError):
    """A poor face (blurry, turned, small) offered for an identity that has better references."""

    code = "poor_reference"

    def __init__(self, flags: tuple[str, ...]) -> None:
        super().__init__("a poor reference (" + ", ".join(flags) + ") and better ones exist")
        self.flags = flags


class AmbiguousIdentity(FaceFindError):
    code = "ambiguous_identity"

    def __init__(self, name: str, matches: list[Identity]) -> None:
        super().__init__(f"{len(matches)} identities are named {name!r}")
        self.name = name
        self.matches = matches


class UnknownIdentity(FaceFindError):
    code = "unknown_identity"


class AlreadyDecided(FaceFindError):
    """A decision on a user that does not apply to them as they are now: another admin decided
    first, or the user is where the action would put them already. `user`: as they are now;
    `same`: they are already where the action would put them."""

    code = "already_decided"

    def __init__(self, user: User, *, same: bool) -> None:
        by = f", decided by {user.decided_by}" if user.decided_by else ""
        super().__init__(f"user {user.id} is already {user.role}, {user.status}{by}")
        self.user = user
        self.same = same


class StaleEmbeddings(RuntimeError):
    """The gallery holds faces embedded with another recipe: a start-up error naming the fix."""
