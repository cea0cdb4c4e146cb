"""PostgreSQL gallery: pool, migrations, every SQL statement, vector search, audit."""

from gallery.checks import DatabaseCheckError, audit_rights, check_vector
from gallery.db import MigrationError, create_pool, database_unavailable, migrate, outage_text
from gallery.embedded import start_embedded
from gallery.gallery import Gallery
from gallery.models import ModelMismatch
from gallery.records import (
    AuditCheck,
    AuditHead,
    CandidateRef,
    DeliveryCheck,
    Face,
    Identity,
    Lookup,
    LookupSummary,
    Match,
    NewCandidate,
    NewLookupFace,
    StoredCandidate,
    StoredLookupFace,
    User,
    UserActivity,
)
from gallery.roles import DEFAULT_RUNTIME_ROLE, RoleError, RuntimeRole
from gallery.seal import AuditKey, AuditKeyMismatch, check_audit_key

__all__ = [
    "DEFAULT_RUNTIME_ROLE",
    "AuditCheck",
    "AuditHead",
    "AuditKey",
    "AuditKeyMismatch",
    "CandidateRef",
    "DatabaseCheckError",
    "DeliveryCheck",
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
    "RoleError",
    "RuntimeRole",
    "StoredCandidate",
    "StoredLookupFace",
    "User",
    "UserActivity",
    "audit_rights",
    "check_audit_key",
    "check_vector",
    "create_pool",
    "database_unavailable",
    "migrate",
    "outage_text",
    "start_embedded",
]
