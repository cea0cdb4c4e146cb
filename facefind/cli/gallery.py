"""Gallery commands: enroll (a folder, or one photo with a chosen face), reembed, identities."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from facefind.access.actors import Requester
from facefind.access.erasure import Eraser
from facefind.cli.common import bands_in_force, db_id, open_gallery, open_service
from facefind.enroll.folder import AUTO_WORKERS_FROM, FolderReport, auto_workers
from facefind.enroll.folder_scan import REVIEW_SUFFIX, identity_name, is_photo, scan_folder
from facefind.enroll.photo import IdentitySpec
from facefind.enroll.reembed import faces_to_reembed, reembed
from facefind.errors import FaceFindError, PoorReference, UnknownIdentity
from facefind.identity_edits import IdentityEditor, MergeRefused
from facefind.runtime.settings import Settings
from facefind.scoring.bands import Bands
from facefind.user_input import BadInput
from recognition import ImageError


def workers_arg(text: str) -> int | str:
    """`auto` or a number of analysing processes from 1 to 256."""
    if text == "auto":
        return text
    if text.isdigit() and 1 <= int(text) <= 256:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected auto or a number from 1 to 256, got {text!r}")


def review_path(photo: Path, root: Path, review_dir: Path | None) -> Path:
    """Where the numbered-boxes picture of a tied photo goes: next to it, or under --review."""
    name = photo.stem + REVIEW_SUFFIX
    if review_dir is None:
        return photo.with_name(name)
    try:
        relative = photo.parent.relative_to(root)
    except ValueError:
        relative = Path(photo.parent.name)
    return review_dir / relative / name


def write_reviews(report: FolderReport, root: Path, review_dir: Path | None) -> dict[str, str]:
    """Write the tie pictures; photo -> picture path (or the reason it could not be written)."""
    written: dict[str, str] = {}
    for photo, _, picture in report.ties:
        target = review_path(Path(photo), root, review_dir)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(picture)
            written[photo] = str(target)
        except OSError as exc:
            written[photo] = f"(not written: {exc.strerror or exc}; use --review DIR)"
    return written


def print_report(report: FolderReport, reviews: dict[str, str]) -> None:
    if not report.duplicate_check:
        print("(no duplicate check: a large load; run a smaller one to check for duplicates)")
    print(
        f"people: {report.people}; enrolled: {report.people_enrolled} "
        f"({report.enrolled} face(s), {report.identities_created} new identit"
        f"{'y' if report.identities_created == 1 else 'ies'})"
    )
    if report.not_enrolled:
        print(f"NOT ENROLLED ({len(report.not_enrolled)}): no usable reference")
        for name in report.not_enrolled:
            print(f"  {name}")
    if report.ties:
        print(
            f"ties ({len(report.ties)}): several faces and none clearly the subject; look at "
            "the numbered picture and run `facefind enroll PHOTO --face N`"
        )
        for photo, count, _ in report.ties:
            print(f"  {photo}: {count} faces -> {reviews.get(photo, '')}")
    if report.flagged:
        print(f"flagged ({len(report.flagged)}): enrolled as low-quality references (no better)")
        for photo, reasons in report.flagged:
            print(f"  {photo}: {', '.join(reasons)}")
    if report.refused:
        print(f"refused ({len(report.refused)}): cannot be embedded meaningfully")
        for photo, reasons in report.refused:
            print(f"  {photo}: {', '.join(reasons)}")
    for photo, reason in report.skipped:
        print(f"  skipped {photo}: {reason}")
    for photo, other in report.duplicates:
        print(f"  warning {photo}: this face already matches {other} as strong")


def nothing_to_enroll(root: Path) -> str:
    """Why a folder gave no photo, with the layout it needs."""
    loose = any(is_photo(p) for p in root.iterdir())
    hint = (
        "; the photos directly in it are not read: put each person's photos in a subfolder "
        "named after them"
        if loose
        else ": it needs one subfolder of JPEG, PNG or WebP photos per person"
    )
    return f"no photos to enroll in {root}{hint}"


async def cmd_enroll(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.path
    if await asyncio.to_thread(path.is_file):
        return await enroll_photo(settings, args)
    if args.face is not None or args.name:
        print("error: --face and --name go with a single photo, not a folder", file=sys.stderr)
        return 2
    from tqdm import tqdm

    try:
        plan = await asyncio.to_thread(scan_folder, path)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = sum(len(photos) for *_, photos in plan)
    if not total:
        print(f"error: {await asyncio.to_thread(nothing_to_enroll, path)}", file=sys.stderr)
        return 1
    workers = auto_workers(total) if args.workers == "auto" else args.workers
    if not args.quiet:
        processes = "1 process" if workers == 1 else f"{workers} processes"
        print(f"{total} photos of {len(plan)} people; analysing in {processes}", file=sys.stderr)
    async with open_service(settings) as service:
        with tqdm(total=total, unit="photo", disable=args.quiet, file=sys.stderr) as bar:
            report = await service.enroll_plan(
                plan,
                Requester.cli(),
                workers=workers,
                model_dir=settings.model_dir,
                check_duplicates=False if args.no_duplicate_check else None,
                progress=lambda _p: bar.update(1),
            )
    reviews = await asyncio.to_thread(write_reviews, report, path, args.review)
    if args.json:
        summary = report.as_dict()
        summary["review_pictures"] = reviews
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print_report(report, reviews)
    if len(report.not_enrolled) == report.people:
        print(f"error: nobody was enrolled from {path}", file=sys.stderr)
        return 1
    return 0


async def enroll_photo(settings: Settings, args: argparse.Namespace) -> int:
    """One photo, for the identity named by --name or by the photo's folder, face --face N."""
    path: Path = args.path
    if not await asyncio.to_thread(is_photo, path):
        print(f"error: not a JPEG, PNG or WebP photo: {path}", file=sys.stderr)
        return 2
    name = args.name or identity_name(path.parent.name)
    data = await asyncio.to_thread(path.read_bytes)
    async with open_service(settings) as service:
        try:
            result = await service.enroller.enroll(
                data, IdentitySpec(name, args.ref), Requester.cli(), face_index=args.face
            )
        except PoorReference as exc:
            print(f"not enrolled: {exc}", file=sys.stderr)
            return 1
        except (ImageError, FaceFindError) as exc:
            print(f"not enrolled: {exc}", file=sys.stderr)
            return 1
    ident = result.identity
    if result.face_id is None:
        print(f"{path} is already enrolled for {ident.display_name} (#{ident.id})")
        return 0
    flagged = f" (low-quality reference: {', '.join(result.flags)})" if result.flags else ""
    print(
        f"enrolled face {result.face.index} of {path} for {ident.display_name} "
        f"(identity #{ident.id}, face #{result.face_id}){flagged}"
    )
    for m in result.duplicates:
        print(f"  warning: this face also matches {m.display_name} (#{m.identity_id}) as strong")
    return 0


async def cmd_reembed(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    async with open_service(settings, check_embeddings=False) as service:
        total = await faces_to_reembed(service.gallery, service.analysis, args.from_model)
        with tqdm(total=total, unit="face", disable=args.quiet, file=sys.stderr) as bar:
            report = await reembed(
                service.gallery,
                service.analysis,
                service.bands,
                Requester.cli(),
                from_model=args.from_model,
                batch=args.batch,
                progress=bar.update,
            )
    what = f"from {args.from_model} into {service.model}" if args.from_model else "re-embedded"
    print(f"{what}: {report.reembedded + report.copied} face(s)")
    if report.without_crop:
        print(
            f"{report.without_crop} face(s) have no stored crop and were left as they are: "
            "import them again with their crops, or forget their identities"
        )
    return 0


def bands_text(model: str, bands: Bands) -> str:
    t = bands.thresholds
    line = (
        f"model {model}: {bands.identities} identities; bands in force: strong >= {t.strong:.3f},"
        f" possible >= {t.possible:.3f} ({bands.source}"
    )
    if bands.source == "calibrated":
        line += (
            f": at most {bands.possible_target:.2%} of people not enrolled get any candidate, "
            f"{bands.strong_target:.2%} a strong one"
        )
    line += ")"
    if bands.over_capacity:
        line += (
            f"\nWARNING: more identities than this model serves at these rates (about "
            f"{bands.capacity}); see docs/calibration.md for a larger model pack"
        )
    return line


async def cmd_identities(settings: Settings, args: argparse.Namespace) -> int:
    requester = Requester.cli()
    grace = settings.forget_grace_days
    async with open_gallery(settings) as gallery:
        eraser = Eraser(gallery)
        if args.action == "forget":
            forgotten = await eraser.forget(args.id, requester, grace_days=grace)
            if forgotten is None:
                print(f"no active identity #{args.id}")
                return 1
            if forgotten.erased:
                print(f"identity #{args.id} forgotten and erased (faces, pictures, name)")
            else:
                assert forgotten.restorable_until is not None
                print(
                    f"identity #{args.id} forgotten; restorable until "
                    f"{forgotten.restorable_until:%Y-%m-%d %H:%M} UTC, then erased by the purge"
                )
            return 0
        if args.action == "restore":
            restored = await eraser.restore(args.id, requester, grace_days=grace)
            print(RESTORE_MESSAGES[restored.status].format(id=args.id, days=grace))
            return 0 if restored.status == "restored" else 1
        if args.action in ("edit", "merge"):
            return await _edit_identity(IdentityEditor(gallery), args, requester)
        model, bands = await bands_in_force(settings, gallery)
        print(bands_text(model, bands))
        for ident in await gallery.identities.all(include_deleted=args.deleted):
            ref = f" [{ident.external_ref}]" if ident.external_ref else ""
            gone = " (erased)" if ident.erased else " (forgotten)" if ident.deleted else ""
            print(f"#{ident.id}\t{ident.display_name}{ref}\t{ident.face_count} face(s){gone}")
    return 0


async def _edit_identity(editor: IdentityEditor, args: argparse.Namespace, who: Requester) -> int:
    """`identities edit ID [--name] [--ref]` and `identities merge SOURCE TARGET`."""
    try:
        if args.action == "merge":
            merged = await editor.merge(args.source, args.target, who)
            print(
                f"identity #{merged.source} merged into #{merged.target}: {merged.faces_moved} "
                f"face(s) moved, {merged.faces_left} left (photos #{merged.target} had already)"
            )
            if merged.watch == "moved":
                print(f"its watchlist entry now watches #{merged.target}")
            elif merged.watch == "ended":
                print(f"its watchlist entry ended: #{merged.target} is watched already")
            if merged.unknown_persons:
                print(
                    f"{len(merged.unknown_persons)} unknown person(s) named as it now name "
                    f"#{merged.target}"
                )
            return 0
        current = await editor.gallery.identities.get(args.id)
        if current is None or current.deleted:
            raise UnknownIdentity(f"#{args.id}")
        name = args.name if args.name is not None else current.display_name
        ref = args.ref if args.ref is not None else current.external_ref
        edited = await editor.edit(args.id, who, name=name, external_ref=ref)
    except (UnknownIdentity, MergeRefused, BadInput) as exc:
        what = f"no identity #{args.id} in use" if isinstance(exc, UnknownIdentity) else exc
        print(f"error: {what}", file=sys.stderr)
        return 1
    ident = edited.identity
    ref_text = f" [{ident.external_ref}]" if ident.external_ref else ""
    verb = "now" if edited.changed else "unchanged:"
    print(f"identity #{ident.id} {verb} {ident.display_name}{ref_text}")
    return 0


RESTORE_MESSAGES = {
    "restored": "identity #{id} restored: it is searched again",
    "missing": "no identity #{id}",
    "not_forgotten": "identity #{id} is not forgotten",
    "erased": "identity #{id} was erased for good: nothing to restore",
    "merged": "identity #{id} was merged into another: its faces are that identity's now",
    "too_late": "identity #{id} was forgotten more than {days} days ago: the purge erases it",
}


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "enroll",
        help="enroll a folder (one subfolder of photos per identity) or one photo",
    )
    p.add_argument(
        "path",
        type=Path,
        help="a folder with one subfolder per identity (folder name = display name; optional "
        "identities.csv: name,external_ref,notes), or one photo",
    )
    p.add_argument("--face", type=int, help="with a photo: the face number to enroll")
    p.add_argument("--name", help="with a photo: the identity (default: the photo's folder)")
    p.add_argument("--ref", help="with a photo: the identity's external reference")
    p.add_argument(
        "--review",
        type=Path,
        help="write the numbered pictures of tied photos here (default: next to each photo, "
        f"as NAME{REVIEW_SUFFIX})",
    )
    p.add_argument(
        "--workers",
        type=workers_arg,
        default="auto",
        help="analyse photos in this many processes (default auto: one per core for a load of "
        f"{AUTO_WORKERS_FROM} photos or more, else 1: in this process)",
    )
    p.add_argument(
        "--no-duplicate-check",
        action="store_true",
        help="do not search each new face for other identities it matches (by default only "
        "loads of up to 5,000 photos are checked)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_enroll)

    p = sub.add_parser(
        "reembed",
        help="re-embed the gallery from its stored face crops (a new embedding recipe, or "
        "another model pack with --from-model)",
    )
    p.add_argument("--from-model", help="embed this model pack's faces with the loaded one")
    p.add_argument("--batch", type=db_id, default=64, help="faces per batch (default 64)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_reembed)

    p = sub.add_parser(
        "identities",
        help="the gallery's size, bands in force, identities; forget, restore, edit or merge",
    )
    p.add_argument("--deleted", action="store_true", help="include forgotten identities")
    isub = p.add_subparsers(dest="action", metavar="ACTION")
    lp = isub.add_parser("list", help="list identities (default)")
    # SUPPRESS: `identities --deleted list` must keep what the option before the action said
    lp.add_argument(
        "--deleted", action="store_true", default=argparse.SUPPRESS, help="include forgotten"
    )
    f = isub.add_parser(
        "forget",
        help="remove an identity from all searches and erase its faces (at once, or after "
        "FACEFIND_FORGET_GRACE_DAYS)",
    )
    f.add_argument("id", type=db_id)
    f = isub.add_parser("restore", help="undo a forget within FACEFIND_FORGET_GRACE_DAYS")
    f.add_argument("id", type=db_id)
    f = isub.add_parser("edit", help="rename an identity, or change its external reference")
    f.add_argument("id", type=db_id)
    f.add_argument("--name", help="the new display name")
    f.add_argument("--ref", help="the new external reference ('' removes it)")
    f = isub.add_parser(
        "merge",
        help="merge identity SOURCE into TARGET (one person): its faces move, lookups from now "
        "on name TARGET",
    )
    f.add_argument("source", type=db_id)
    f.add_argument("target", type=db_id)
    p.set_defaults(func=cmd_identities)
