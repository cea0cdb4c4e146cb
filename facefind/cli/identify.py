"""`facefind identify`: each image recorded as a lookup, its faces and candidates printed."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from facefind.access.actors import Requester
from facefind.cli.common import open_service
from facefind.identify import IdentifyResult
from facefind.runtime.settings import Settings
from facefind.scoring.assignment import Candidate
from facefind.scoring.bands import rarity_text
from recognition import ImageError


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
                lookup_id = await service.identifier.begin_lookup(requester, source="cli")
                try:
                    result = await service.identifier.identify(data, requester, lookup_id=lookup_id)
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


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "identify", help="identify the faces in images (each is recorded as a lookup)"
    )
    p.add_argument("images", nargs="+", help="image files (JPEG, PNG, WebP)")
    p.add_argument("--json", action="store_true", help="one JSON object per image per line")
    p.set_defaults(func=cmd_identify)
