"""Settings read once from the environment (and an optional .env file) at the entry point."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from recognition.types import Limits, VideoLimits


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


# Thresholds (strong, possible) for a model pack without a calibration file: the values
# calibrated on LFW for buffalo_s at about 1,000 identities (docs/calibration.md). With a
# calibration, the bands follow the gallery's size instead (facefind.scoring.bands).
FALLBACK_THRESHOLDS: tuple[float, float] = (0.55, 0.40)
# Default targets: the share of people who are NOT enrolled that may be shown any candidate
# (possible), and a strong one (strong), whatever the gallery's size.
POSSIBLE_TARGET = 0.005
STRONG_TARGET = 0.0005


@dataclass(frozen=True)
class Thresholds:
    strong: float
    possible: float

    def band(self, similarity: float) -> str | None:
        if similarity >= self.strong:
            return "strong"
        if similarity >= self.possible:
            return "possible"
        return None


@dataclass(frozen=True)
class Settings:
    # the application's runtime role; None: the embedded server
    database_url: str | None = None
    # the role that owns the schema and runs migrations; None: DATABASE_URL does both
    database_owner_url: str | None = None
    data_dir: Path = field(default_factory=lambda: default_data_dir())
    model_dir: Path | None = None
    strong_threshold: float | None = None
    possible_threshold: float | None = None
    possible_target: float = POSSIBLE_TARGET
    strong_target: float = STRONG_TARGET
    # look-alike relatives (twins, siblings) per pair of people among those searched; None: the
    # value the calibration measured on its own photos (see docs/calibration.md)
    relatives_prevalence: float | None = 0.0
    limits: Limits = field(default_factory=Limits)
    inference_workers: int = 2
    onnx_threads: int = 1
    search_ef: int = 200
    search_shortlist: int = 200
    candidates_per_face: int = 3
    # Telegram
    telegram_bot_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    admin_ids: tuple[int, ...] = ()
    webhook_url: str | None = None
    webhook_listen: str = "0.0.0.0:8443"
    webhook_secret: str | None = None
    http_listen: str = "127.0.0.1:8080"
    # the admin console: where it listens ("off": nowhere), and its public address
    # (docs/console.md). https://: the Mini App and Secure cookies; http://: sign-in links on a
    # local network only
    web_listen: str = "127.0.0.1:8081"
    web_url: str | None = None
    rate_limit_per_hour: int = 30
    retention_days: int = 90
    # days a forgotten identity can be restored before the purge erases it; 0: erased at once
    forget_grace_days: int = 0
    # access requests: at most one notification per admin in this many seconds, then a digest
    request_digest_seconds: int = 60
    # hex; None: audit.key in the data folder (created on first start)
    audit_key: str | None = None
    log_level: str = "INFO"
    # load and delivery (docs/operations.md): the pools are sized from these together
    updates_in_flight: int = 16
    # the bot answers lookups itself; false: only `facefind worker` processes do
    in_process_worker: bool = True
    lookup_concurrency: int | None = None  # None: inference_workers + 2
    db_acquire_timeout: float = 10.0
    reply_attempts: int = 12
    reply_backoff: float = 2.0
    reply_backoff_max: float = 600.0
    job_heartbeat: float = 10.0
    # a lookup whose worker died this many times while running its job (a photo that kills
    # the process: out of memory, a crash in native code) is closed instead of run again
    lookup_crash_limit: int = 2
    # investigations (issue 17): clips, albums, sightings, watchlist alerts
    video_limits: VideoLimits = field(default_factory=VideoLimits)
    # a media group's parts arrive as separate updates: it is taken once none came for this long
    album_wait: float = 2.0
    # officers are told when the face they sent was photographed before (admins always are)
    sightings_to_officers: bool = True
    # after an alert about an identity, more lookups of it within this window only count
    alert_window: float = 3600.0

    @property
    def lookups_at_once(self) -> int:
        """Lookups one worker runs at once: enough to download the next photos while the
        inference pool is busy, few enough that decoded photos do not pile up in memory."""
        if self.lookup_concurrency is not None:
            return self.lookup_concurrency
        return self.inference_workers + 2

    @property
    def db_pool_size(self) -> int:
        """Connections the service needs: one per update in flight and per running lookup,
        plus housekeeping (health checks, retention)."""
        return self.updates_in_flight + self.lookups_at_once + 2

    @property
    def fixed_thresholds(self) -> bool:
        """The operator set a threshold: it overrides what the calibration would give."""
        return self.strong_threshold is not None or self.possible_threshold is not None

    def with_overrides(self, derived: Thresholds) -> Thresholds:
        """The derived thresholds with the operator's fixed values in their place.

        A fixed value always wins. The derived band on its other side moves with the gallery
        and may cross it (a fixed strong 0.45 below the possible band of a large gallery): it is
        then held at the fixed value, so possible <= strong always holds and no lookup fails
        over it (facefind.scoring.bands.BandPolicy warns when that happens)."""
        strong, possible = derived.strong, derived.possible
        if self.strong_threshold is not None:
            strong = self.strong_threshold
            possible = min(possible, strong)
        if self.possible_threshold is not None:
            possible = self.possible_threshold
            strong = max(strong, possible)
        return Thresholds(strong=strong, possible=possible)

    @property
    def console_enabled(self) -> bool:
        """FACEFIND_WEB_LISTEN=off: no console (no listener, no sign-in links, no Mini App)."""
        return self.web_listen != "off"

    def __post_init__(self) -> None:
        if self.console_enabled:
            try:
                parse_listen(self.web_listen)
            except SettingsError as exc:
                raise SettingsError(f"FACEFIND_WEB_LISTEN: {exc} (or off)") from None
        if self.web_url is not None:
            check_web_url(self.web_url)
        fixed = (
            ("FACEFIND_STRONG_THRESHOLD", self.strong_threshold),
            ("FACEFIND_POSSIBLE_THRESHOLD", self.possible_threshold),
        )
        for name, value in fixed:
            if value is not None and not 0 < value <= 1:
                raise SettingsError(f"{name} must be a similarity above 0 and at most 1: {value}")
        if (
            self.strong_threshold is not None
            and self.possible_threshold is not None
            and self.possible_threshold > self.strong_threshold
        ):
            raise SettingsError(
                f"FACEFIND_POSSIBLE_THRESHOLD ({self.possible_threshold}) must not be above "
                f"FACEFIND_STRONG_THRESHOLD ({self.strong_threshold})"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
        """Build settings from `env` (default: os.environ, after loading ./.env if present)."""
        if env is None:
            if dotenv:
                from dotenv import load_dotenv

                load_dotenv(override=False)
            env = os.environ
        e = _Env(env)
        limits = Limits(
            max_image_bytes=e.integer("FACEFIND_MAX_IMAGE_BYTES", Limits.max_image_bytes),
            max_pixels=e.integer("FACEFIND_MAX_PIXELS", Limits.max_pixels),
            max_faces=e.integer("FACEFIND_MAX_FACES", Limits.max_faces),
            det_threshold=e.number("FACEFIND_DET_THRESHOLD", Limits.det_threshold),
            min_face_px=e.integer("FACEFIND_MIN_FACE_PX", Limits.min_face_px),
            enroll_min_face_px=e.integer("FACEFIND_ENROLL_MIN_FACE_PX", Limits.enroll_min_face_px),
        )
        return cls(
            database_url=e.text("DATABASE_URL"),
            database_owner_url=e.text("DATABASE_OWNER_URL"),
            data_dir=Path(e.text("FACEFIND_DATA_DIR") or default_data_dir()).expanduser(),
            model_dir=_path(e.text("FACEFIND_MODEL_DIR")),
            strong_threshold=e.optional_number("FACEFIND_STRONG_THRESHOLD"),
            possible_threshold=e.optional_number("FACEFIND_POSSIBLE_THRESHOLD"),
            possible_target=e.rate("FACEFIND_POSSIBLE_TARGET", POSSIBLE_TARGET),
            strong_target=e.rate("FACEFIND_STRONG_TARGET", STRONG_TARGET),
            relatives_prevalence=e.prevalence("FACEFIND_RELATIVES_PREVALENCE"),
            limits=limits,
            inference_workers=e.integer("FACEFIND_INFERENCE_WORKERS", 2, minimum=1),
            onnx_threads=e.integer("FACEFIND_ONNX_THREADS", 1, minimum=1),
            search_ef=e.integer("FACEFIND_SEARCH_EF", 200, minimum=10),
            search_shortlist=e.integer("FACEFIND_SEARCH_SHORTLIST", 200, minimum=10),
            telegram_bot_token=e.text("TELEGRAM_BOT_TOKEN"),
            telegram_api_url=(e.text("TELEGRAM_API_URL") or "https://api.telegram.org").rstrip("/"),
            admin_ids=e.ids("ADMIN_IDS"),
            webhook_url=e.text("WEBHOOK_URL"),
            webhook_listen=e.text("WEBHOOK_LISTEN") or "0.0.0.0:8443",
            webhook_secret=e.text("WEBHOOK_SECRET"),
            http_listen=e.text("FACEFIND_HTTP_LISTEN") or "127.0.0.1:8080",
            web_listen=_listen_or_off(e.text("FACEFIND_WEB_LISTEN")) or "127.0.0.1:8081",
            web_url=e.text("FACEFIND_WEB_URL"),
            rate_limit_per_hour=e.integer("FACEFIND_RATE_LIMIT_PER_HOUR", 30, minimum=0),
            retention_days=e.integer("FACEFIND_RETENTION_DAYS", 90, minimum=0),
            forget_grace_days=e.integer("FACEFIND_FORGET_GRACE_DAYS", 0, minimum=0),
            request_digest_seconds=e.integer("FACEFIND_REQUEST_DIGEST_SECONDS", 60, minimum=0),
            audit_key=e.text("FACEFIND_AUDIT_KEY"),
            log_level=(e.text("FACEFIND_LOG_LEVEL") or "INFO").upper(),
            updates_in_flight=e.integer("FACEFIND_UPDATES_IN_FLIGHT", 16, minimum=1),
            in_process_worker=e.flag("FACEFIND_IN_PROCESS_WORKER", True),
            lookup_concurrency=e.optional_integer("FACEFIND_LOOKUP_CONCURRENCY", minimum=1),
            db_acquire_timeout=e.number("FACEFIND_DB_ACQUIRE_TIMEOUT", 10.0),
            reply_attempts=e.integer("FACEFIND_REPLY_ATTEMPTS", 12, minimum=1),
            reply_backoff=e.number("FACEFIND_REPLY_BACKOFF_SECONDS", 2.0),
            reply_backoff_max=e.number("FACEFIND_REPLY_BACKOFF_MAX_SECONDS", 600.0),
            job_heartbeat=e.number("FACEFIND_JOB_HEARTBEAT_SECONDS", 10.0),
            lookup_crash_limit=e.integer("FACEFIND_LOOKUP_CRASH_LIMIT", 2, minimum=1),
            video_limits=VideoLimits(
                max_bytes=e.integer("FACEFIND_VIDEO_MAX_BYTES", VideoLimits.max_bytes, minimum=1),
                max_seconds=e.number("FACEFIND_VIDEO_MAX_SECONDS", VideoLimits.max_seconds),
                max_samples=e.integer(
                    "FACEFIND_VIDEO_MAX_SAMPLES", VideoLimits.max_samples, minimum=1
                ),
            ),
            album_wait=e.number("FACEFIND_ALBUM_WAIT_SECONDS", 2.0),
            sightings_to_officers=e.flag("FACEFIND_SIGHTINGS_TO_OFFICERS", True),
            alert_window=e.number("FACEFIND_ALERT_WINDOW_SECONDS", 3600.0),
        )


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("facefind", appauthor=False))


def _listen_or_off(value: str | None) -> str | None:
    """FACEFIND_WEB_LISTEN as given, "off" in any case spelt "off"."""
    if value is not None and value.strip().lower() == "off":
        return "off"
    return value


def parse_listen(value: str) -> tuple[str, int]:
    """'host:port' (or ':port') to a (host, port) pair."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise SettingsError(f"expected host:port, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def check_web_url(url: str) -> None:
    """FACEFIND_WEB_URL: the console's origin, https:// (Telegram opens Mini Apps over HTTPS
    only). http:// is accepted for an address that stays on a local network (an IP address that
    is not global: loopback, private, link-local, a VPN's shared range; localhost; a name without
    a dot or under .local, .lan, .internal, .home.arpa): its sign-in links and cookies travel
    unencrypted, so never across the internet."""
    import ipaddress
    from urllib.parse import urlsplit

    name = "FACEFIND_WEB_URL"
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise SettingsError(f"{name} has a malformed port: {url!r}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise SettingsError(f"{name} must be an https:// address, got {url!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise SettingsError(f"{name} must be only scheme, host and port, got {url!r}")
    if parts.path not in ("", "/"):
        raise SettingsError(f"{name}: the console is served at the root of its host, not {url!r}")
    if parts.scheme == "http":
        host = parts.hostname.lower()
        try:
            address = ipaddress.ip_address(host)
            local = not address.is_global
        except ValueError:
            local = (
                host == "localhost"
                or "." not in host
                or host.endswith((".local", ".lan", ".internal", ".home.arpa", ".localhost"))
            )
        if not local:
            raise SettingsError(
                f"{name} must be https:// for a public address ({url!r}): sign-in links and "
                "session cookies must not cross the internet unencrypted"
            )


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None


class _Env:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise SettingsError(f"{name} must be at least {minimum}, got {value}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name} must be true or false, got {raw!r}")

    def optional_integer(self, name: str, *, minimum: int | None = None) -> int | None:
        if self.text(name) is None:
            return None
        return self.integer(name, 0, minimum=minimum)

    def number(self, name: str, default: float) -> float:
        value = self.optional_number(name)
        return default if value is None else value

    def rate(self, name: str, default: float) -> float:
        value = self.number(name, default)
        if not 0 < value < 1:
            raise SettingsError(f"{name} must be a rate between 0 and 1, got {value}")
        return value

    def prevalence(self, name: str) -> float | None:
        """A rate >= 0 (default 0), or 'calibrated' for the calibration's own (None)."""
        raw = self.text(name)
        if raw is not None and raw.lower() == "calibrated":
            return None
        value = self.number(name, 0.0)
        if not 0 <= value < 1:
            raise SettingsError(f"{name} must be 'calibrated' or a rate from 0 to 1, got {raw}")
        return value

    def optional_number(self, name: str) -> float | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None

    def ids(self, name: str) -> tuple[int, ...]:
        raw = self.text(name)
        if raw is None:
            return ()
        try:
            return tuple(int(p) for p in raw.replace(";", ",").replace(" ", ",").split(",") if p)
        except ValueError:
            raise SettingsError(f"{name} must be a comma-separated list of user ids") from None
