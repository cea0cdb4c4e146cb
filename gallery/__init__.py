"""PostgreSQL gallery: pool, migrations, every SQL statement, vector search, audit."""

from gallery.db import MigrationError, create_pool, migrate
from gallery.embedded import start_embedded
from gallery.records import (
    AuditCheck,
    CandidateRef,
    Face,
    Identity,
    Lookup,
    LookupSummary,
    Match,
    NewCandidate,
    NewLookupFace,
    PendingLookup,
    StoredCandidate,
    StoredLookupFace,
    User,
)
from gallery.store import Gallery, ModelMismatch

__all__ = [
    "AuditCheck",
    "CandidateRef",
    "Face",
    "Gallery",
    "Identity",
    "Lookup",
    "LookupSummary",
    "Match",
    "MigrationError",
    "ModelMismatch",
    "NewCandidate",
    "NewLookupFace",
    "PendingLookup",
    "StoredCandidate",
    "StoredLookupFace",
    "User",
    "create_pool",
    "migrate",
    "start_embedded",
]
