"""The audit key: it seals every row of the audit log, and the database never sees it.

It comes from FACEFIND_AUDIT_KEY, or from audit.key in the data folder (created on first use);
the witness (facefind.access.witness) keeps the chain's head outside the database beside it.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from facefind.runtime.settings import Settings, SettingsError
from gallery import AuditKey

logger = logging.getLogger(__name__)

KEY_FILE = "audit.key"


def parse_key(text: str, where: str) -> AuditKey:
    value = text.strip()
    try:
        secret = bytes.fromhex(value)
    except ValueError:
        raise SettingsError(f"{where} must be hexadecimal (64 characters or more)") from None
    if len(secret) < 32:
        raise SettingsError(f"{where} must hold at least 32 bytes (64 hexadecimal characters)")
    return AuditKey(secret)


def load_audit_key(settings: Settings) -> AuditKey:
    """FACEFIND_AUDIT_KEY, or the data folder's audit.key, created (0600) on first use."""
    if settings.audit_key:
        return parse_key(settings.audit_key, "FACEFIND_AUDIT_KEY")
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        _create_key(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning(
            "%s can be read by other users (mode %o): chmod 600 it; whoever reads it can forge "
            "the audit log",
            path,
            mode,
        )
    return parse_key(path.read_text(encoding="ascii"), str(path))


def _create_key(path: Path) -> None:
    """Write a new key atomically: a second process starting at once keeps the first's key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secrets.token_hex(32) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process made one meanwhile: theirs stands
        logger.warning(
            "created a new audit key in %s: back it up now (docs/operations.md); without it the "
            "audit log can no longer be checked",
            path,
        )
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
