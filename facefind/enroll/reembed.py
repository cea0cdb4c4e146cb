"""Re-embedding the gallery from its stored aligned crops: after a change of embedding recipe,
or into another model pack (the crops are the same faces; only the recognizer changes)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from facefind.access.actors import Requester
from facefind.analysis import PoolAnalyzer
from facefind.scoring.in_force import BandsInForce
from gallery import Gallery
from recognition.render import decode_jpeg

logger = logging.getLogger(__name__)


@dataclass
class ReembedReport:
    reembedded: int = 0  # faces of this model given the current recipe
    copied: int = 0  # faces of another model pack embedded with this one
    without_crop: int = 0  # faces that cannot be re-embedded (imported without a crop)


def _embed_jpegs(analysis: PoolAnalyzer, jpegs: list[bytes]) -> list[np.ndarray | None]:
    """Embeddings of stored crops in one batch; None for a face stored without a crop."""
    crops = [decode_jpeg(j) if j else None for j in jpegs]
    usable = [c for c in crops if c is not None and c.shape == (112, 112, 3)]
    vectors = iter(analysis.analyzer.embed_crops(usable) if usable else [])
    return [next(vectors) if c is not None and c.shape == (112, 112, 3) else None for c in crops]


async def faces_to_reembed(gallery: Gallery, analysis: PoolAnalyzer, from_model: str | None) -> int:
    """How many faces a `reembed` run has to go through (for its progress bar)."""
    if from_model:
        return (await gallery.faces.of_other_models(analysis.model)).get(from_model, 0)
    return await gallery.faces.count_to_reembed(analysis.model, analysis.recipe)


async def reembed(
    gallery: Gallery,
    analysis: PoolAnalyzer,
    bands: BandsInForce,
    requester: Requester,
    *,
    from_model: str | None = None,
    batch: int = 64,
    progress: Callable[[int], None] | None = None,
) -> ReembedReport:
    """Re-embed every face made with another recipe (or, with `from_model`, embed that model
    pack's faces with the loaded one). Resumable: it walks the faces by id and skips what is
    done; templates are refreshed batch by batch."""
    recipe = analysis.recipe
    model = analysis.model
    report = ReembedReport()
    after = 0
    while True:
        if from_model:
            faces = await gallery.faces.to_copy(from_model, model, after, batch)
            if not faces:
                break
            after = faces[-1].id
            vectors = await analysis.inference.run(
                _embed_jpegs, analysis, [f.crop_jpeg or b"" for f in faces]
            )
            for face, vector in zip(faces, vectors, strict=True):
                if vector is None or face.crop_jpeg is None:
                    report.without_crop += 1
                    continue
                assert (
                    face.source_sha256 is not None
                )  # only erased faces lose it; they are inactive
                added = await gallery.faces.add(
                    identity_id=face.identity_id,
                    model=model,
                    embedding=vector,
                    det_score=face.det_score,
                    quality=face.quality,
                    bbox=face.bbox,
                    crop_jpeg=face.crop_jpeg,
                    source_sha256=face.source_sha256,
                    actor=requester.actor,
                    recipe=recipe,
                    low_quality=face.low_quality,
                )
                report.copied += added is not None
            if progress:
                progress(len(faces))
            continue
        rows = await gallery.faces.to_reembed(model, recipe, after, batch)
        if not rows:
            break
        after = rows[-1][0]
        vectors = await analysis.inference.run(_embed_jpegs, analysis, [r[2] for r in rows])
        done = [
            (fid, ident, v)
            for (fid, ident, _), v in zip(rows, vectors, strict=True)
            if v is not None
        ]
        report.without_crop += len(rows) - len(done)
        if done:
            await gallery.faces.set_embeddings(done, recipe, requester.actor)
            report.reembedded += len(done)
        if progress:
            progress(len(rows))
    bands.gallery_changed()
    return report
