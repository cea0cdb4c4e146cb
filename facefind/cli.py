"""The `facefind` command line: migrate, enroll, reembed, identify, identities, users, audit,
purge, eval, run."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from facefind import cli_data, cli_gallery
from facefind.actors import Requester
from facefind.audit import Witness, load_audit_key, parse_head, verify
from facefind.bands import rarity_text
from facefind.cli_common import db_id, open_gallery, open_service, witness_gallery
from facefind.database import open_pool, prepare
from facefind.erasure import purge
from facefind.errors import AlreadyDecided, StaleEmbeddings
from facefind.logs import configure_logging
from facefind.matching import Candidate
from facefind.service import IdentifyResult
from facefind.settings import Settings, SettingsError
from facefind.users import USER_ACTIONS, apply_user_action, readmitted_at_start
from gallery import (
    AuditKeyMismatch,
    DatabaseCheckError,
    Gallery,
    MigrationError,
    ModelMismatch,
    RoleError,
    User,
)
from recognition import ImageError, ModelError

logger = logging.getLogger(__name__)


# --- commands -------------------------------------------------------------------------------
async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    key = load_audit_key(settings)
    db = await prepare(settings, key, actor=Requester.cli().actor)
    print("applied: " + ", ".join(db.applied) if db.applied else "database is up to date")
    if db.runtime_role is not None:
        print(f"the application connects as role {db.runtime_role.name}")
    pool = await open_pool(db, key, max_size=1)
    try:
        gallery = Gallery(pool, audit_key=key, owner_dsn=db.owner_url)
        built = await gallery.indexes.restore(Requester.cli().actor)
        await witness_gallery(settings, gallery)
    finally:
        await pool.close()
    if built:
        print("built the vector indexes an interrupted load left out: " + ", ".join(built))
    return 0


def _result_json(
    path: str, result: IdentifyResult | None, error: str | None, lookup_id: int | None
) -> dict[str, Any]:
    faces = []
    if result is not None:
        lookup_id = result.lookup_id
        for fr in result.faces:
            f = fr.face
            faces.append(
                {
                    "index": f.index,
                    "bbox": [round(float(v), 1) for v in f.bbox],
                    "det_score": round(float(f.det_score), 4),
                    "quality": {"ok": f.quality.ok, "reasons": list(f.quality.reasons)},
                    "candidates": [
                        {
                            "identity_id": c.identity_id,
                            "name": c.display_name,
                            "external_ref": c.external_ref,
                            "similarity": round(c.similarity, 4),
                            "band": c.band,
                            "face_id": c.face_id,
                            "false_candidate_rate": c.false_candidate_rate,
                            "low_quality_reference": c.low_quality_ref,
                            # a lead: the face of the photo that holds this identity
                            "held_by_face": c.held_by_face,
                        }
                        for c in fr.candidates
                    ],
                }
            )
    out: dict[str, Any] = {"image": path, "lookup_id": lookup_id, "faces": faces, "error": error}
    if result is not None:
        out["bands"] = result.bands.as_dict()
    return out


def _print_text(path: str, result: IdentifyResult | None, error: str | None) -> None:
    if result is None:
        print(f"{path}: error: {error}")
        return
    n = len(result.faces)
    print(f"{path}: {n} face{'s' if n != 1 else ''} (lookup #{result.lookup_id})")
    if not n:
        print("  no face found")
    for fr in result.faces:
        f = fr.face
        x1, y1, x2, y2 = (round(v) for v in f.bbox)
        quality = "ok" if f.quality.ok else "LOW QUALITY: " + ", ".join(f.quality.reasons)
        print(f"  face {f.index} at ({x1},{y1})-({x2},{y2}), quality {quality}")
        if all(c.held_by_face is not None for c in fr.candidates):
            print("    no confident match")
        for c in fr.candidates:
            ref = f" [{c.external_ref}]" if c.external_ref else ""
            if c.held_by_face is not None:
                print(
                    f"    lead (not a candidate for this face): {c.display_name}{ref} (identity "
                    f"#{c.identity_id}) similarity {c.similarity * 100:.0f}%, matched face "
                    f"#{c.face_id}; {_held_there(result, c)}"
                )
            else:
                print(
                    f"    candidate {c.rank}: {c.display_name}{ref} (identity #{c.identity_id}) "
                    f"similarity {c.similarity * 100:.0f}% ({c.band}), matched face #{c.face_id}"
                )
                if rarity := rarity_text(c.false_candidate_rate, result.bands.identities):
                    print("      " + rarity)
            if c.low_quality_ref:
                print("      matched through a LOW-QUALITY reference photo: weaker evidence")
    if any(fr.candidates for fr in result.faces):
        print(
            "  candidates are leads for a person to verify, not identifications; close "
            "relatives (twins, siblings) can score like the person"
        )


def _held_there(result: IdentifyResult, lead: Candidate) -> str:
    """Where a lead's identity is a candidate: one person is not two faces of one photo."""
    there = next(
        (
            c.similarity
            for fr in result.faces
            if fr.face.index == lead.held_by_face
            for c in fr.candidates
            if c.identity_id == lead.identity_id and c.held_by_face is None
        ),
        None,
    )
    if there is None:
        return f"it is the candidate of face {lead.held_by_face}"
    better = ", better there" if round(there * 100) > round(lead.similarity * 100) else ""
    return (
        f"also matches face {lead.held_by_face}{better} ({there * 100:.0f}%): it is that face's "
        "candidate"
    )


async def cmd_identify(settings: Settings, args: argparse.Namespace) -> int:
    requester = Requester.cli()
    failures = 0
    async with open_service(settings) as service:
        for image in args.images:
            path = str(image)
            result: IdentifyResult | None = None
            error: str | None = None
            lookup_id: int | None = None
            try:
                data = await asyncio.to_thread(Path(image).read_bytes)
            except OSError as exc:
                error = f"cannot read file: {exc.strerror or exc}"
            else:
                lookup_id = await service.begin_lookup(requester, source="cli")
                try:
                    result = await service.identify(data, requester, lookup_id=lookup_id)
                except ImageError as exc:
                    error = f"{exc.code}: {exc}"
            failures += error is not None
            if args.json:
                print(
                    json.dumps(_result_json(path, result, error, lookup_id), ensure_ascii=False),
                    flush=True,
                )
            else:
                _print_text(path, result, error)
    return 1 if failures and failures == len(args.images) else 0


async def cmd_users(settings: Settings, args: argparse.Namespace) -> int:
    actor = Requester.cli().actor
    async with open_gallery(settings) as gallery:
        if args.action in (None, "list"):
            for u in await gallery.users.all(getattr(args, "status", None)):
                print(f"{u.id}\t{u.display}\t{u.role}\t{u.status}")
            return 0
        try:
            user = await apply_user_action(gallery, args.user_id, args.action, actor, create=True)
        except AlreadyDecided as decided:
            user = decided.user
            # already where the action puts them: done; else another decision stands
            print(f"nothing changed: {decided}", file=sys.stdout if decided.same else sys.stderr)
            _warn_readmitted(settings, user)
            return 0 if decided.same else 1
        assert user is not None
        print(f"user {user.id}: role {user.role}, status {user.status}")
        _warn_readmitted(settings, user)
    return 0


def _warn_readmitted(settings: Settings, user: User) -> None:
    if readmitted_at_start(user, settings.admin_ids):
        print(
            f"warning: user {user.id} is listed in ADMIN_IDS and will be made an approved admin "
            "again at the bot's next start; to make this last, remove them from ADMIN_IDS",
            file=sys.stderr,
        )


async def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    async with open_gallery(settings, witness=False) as gallery:
        if args.action == "list":
            for row in reversed(await gallery.audit.recent(args.limit)):
                details = json.dumps(row["details"], ensure_ascii=False)
                at = f"{row['at']:%Y-%m-%d %H:%M:%S}"
                target = row["target"] or ""
                print(f"{row['id']}\t{at}\t{row['actor']}\t{row['action']}\t{target}\t{details}")
            return 0
        verdict = await verify(gallery, Witness.of(settings), expect=args.head)
    print(verdict.message)
    return 0 if verdict.ok else 1


def days_argument(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) > 100000:
        raise argparse.ArgumentTypeError(f"a number of days from 0 to 100000, not {text!r}")
    return int(text)


def head_argument(text: str) -> tuple[int, str]:
    try:
        return parse_head(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


async def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    # --days 0: everything now; FACEFIND_RETENTION_DAYS=0: keep (no retention limit)
    days = args.days if args.days is not None else (settings.retention_days or None)
    async with open_gallery(settings) as gallery:
        report = await purge(
            gallery,
            retention_days=days,
            grace_days=settings.forget_grace_days,
            actor=Requester.cli().actor,
        )
    if days is None:
        print("FACEFIND_RETENTION_DAYS=0 keeps query faces and file ids (use --days N to purge)")
    else:
        print(
            f"purged {report.crops} query face crop(s) and {report.file_ids} Telegram file id(s) "
            f"of lookups older than {days} days"
        )
    if report.erased:
        print("erased forgotten identities: " + ", ".join(f"#{i}" for i in report.erased))
    return 0


async def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facefind.eval_report import print_summary
    from facefind.evaluate import NothingToEvaluate, evaluate

    if not args.directory.is_dir():
        print(f"error: not a folder: {args.directory}", file=sys.stderr)
        return 2
    with tqdm(unit="photo", disable=args.quiet, file=sys.stderr) as bar:

        def on_total(total: int) -> None:
            bar.total = total
            bar.refresh()

        try:
            report = await evaluate(
                settings,
                args.directory,
                references=args.refs,
                out=args.out,
                calibrate=args.calibrate,
                progress=bar.update,
                on_total=on_total,
            )
        except NothingToEvaluate as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print_summary(report)
    print(f"report: {args.out / 'report.json'}; plots: " + ", ".join(report["plots"]))
    calibration = report.get("calibration")
    if calibration and calibration.get("path"):
        print(f"calibration written to {calibration['path']}; it applies at the next start")
    return 0


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import run_bot

    return run_bot(settings)


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from bot.worker import run_worker

    return run_worker(settings)


USER_ACTION_HELP = {
    "approve": "let a Telegram user run lookups",
    "reject": "refuse a pending access request",
    "revoke": "withdraw an approved user's access",
    "promote": "make an admin (also approves): this is how the first admin is made",
    "demote": "make an admin an officer again",
}
assert set(USER_ACTION_HELP) == set(USER_ACTIONS)


# --- parser ---------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facefind",
        description="Face identification against a PostgreSQL gallery. Settings come from the "
        "environment (or .env): DATABASE_URL, FACEFIND_DATA_DIR, FACEFIND_MODEL_DIR, ... "
        "(see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    cli_gallery.add_parsers(sub)
    cli_data.add_parsers(sub)

    p = sub.add_parser(
        "identify", help="identify the faces in images (each is recorded as a lookup)"
    )
    p.add_argument("images", nargs="+", help="image files (JPEG, PNG, WebP)")
    p.add_argument("--json", action="store_true", help="one JSON object per image per line")
    p.set_defaults(func=cmd_identify)

    p = sub.add_parser("users", help="bot users: list, approve, reject, revoke, promote, demote")
    usub = p.add_subparsers(dest="action", metavar="ACTION")
    lp = usub.add_parser("list", help="list users (default)")
    lp.add_argument("--status", choices=["pending", "approved", "rejected", "revoked"])
    for action, text in USER_ACTION_HELP.items():
        ap = usub.add_parser(action, help=text)
        ap.add_argument("user_id", type=db_id, help="Telegram user id")
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("audit", help="the append-only audit log")
    asub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    av = asub.add_parser(
        "verify",
        help="check every row's seal under the audit key, and that the log still holds the "
        "head the witness (and, with --head, an admin's check-point) saw",
    )
    av.add_argument(
        "--head",
        type=head_argument,
        metavar="ROW:SEAL",
        help="a check-point from the bot's daily message: that row must still carry that seal",
    )
    al = asub.add_parser("list", help="show the most recent audit rows")
    al.add_argument("-n", "--limit", type=db_id, default=50)
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser(
        "purge",
        help="apply the retention limit and erase identities past their grace period now "
        "(the bot also does so daily)",
    )
    p.add_argument(
        "--days",
        type=days_argument,
        metavar="N",
        help="purge query faces and file ids of lookups older than N days (0: all), instead "
        "of FACEFIND_RETENTION_DAYS",
    )
    p.set_defaults(func=cmd_purge)

    p = sub.add_parser(
        "eval",
        help="accuracy check on labelled photos, in a scratch database",
        description="Enroll the first K photos of each person with more than K photos into a "
        "scratch database, identify the rest and the photos of people with K or fewer (as "
        "people not enrolled), and report found, strong and false-candidate rates at the bands "
        "in force and over a threshold sweep. The gallery in use is not touched.",
    )
    p.add_argument("directory", type=Path, help="folder with one subfolder of photos per person")
    p.add_argument("--refs", type=int, default=1, help="references enrolled per person (default 1)")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("facefind-eval"),
        help="folder for report.json and the plots (default ./facefind-eval)",
    )
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="also write a calibration for the model pack in use from these photos "
        "(FACEFIND_DATA_DIR/calibrations/<pack>.json; it wins over the shipped one)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_eval)

    sub.add_parser("run", help="run the Telegram bot").set_defaults(func=cmd_run)
    sub.add_parser(
        "worker",
        help="answer lookups from the queue (add workers on this or other machines; see "
        "docs/scaling.md)",
    ).set_defaults(func=cmd_worker)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    func: Callable[[Settings, argparse.Namespace], Awaitable[int] | int] = args.func
    try:
        if asyncio.iscoroutinefunction(func):
            return int(asyncio.run(func(settings, args)))
        return int(func(settings, args))  # type: ignore[arg-type]
    except (
        SettingsError,
        ModelError,
        ModelMismatch,
        MigrationError,
        StaleEmbeddings,
        DatabaseCheckError,
        RoleError,
        AuditKeyMismatch,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
