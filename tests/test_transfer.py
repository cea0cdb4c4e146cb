"""Moving a gallery between deployments: export, import into a fresh database, same answers."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from recognition.models import default_model_dir
from tests import images
from tests.conftest import new_database
from tests.test_cli import run_cli


def identify(dsn: str, data_dir: Path, photos: list[Path]) -> list[list[tuple[str, float, str]]]:
    out = run_cli(["identify", "--json", *map(str, photos)], dsn, data_dir)
    assert out.returncode == 0, out.stderr
    answers = []
    for line in out.stdout.splitlines():
        result = json.loads(line)
        answers.append(
            [
                (c["name"], round(c["similarity"], 4), c["band"])
                for face in result["faces"]
                for c in face["candidates"]
            ]
        )
    return answers


async def test_export_then_import_gives_the_same_answers(
    pg_server: str, tmp_path: Path, t1: np.ndarray, t1_boxes: list
) -> None:
    source, target = await new_database(pg_server), await new_database(pg_server)
    people = tmp_path / "people"
    for k, box in enumerate(t1_boxes[:4]):
        folder = people / f"Person_{k + 1}"
        folder.mkdir(parents=True)
        (folder / "a.jpg").write_bytes(images.to_jpeg(images.crop_around(t1, box, 0.6)))
        (folder / "b.jpg").write_bytes(
            images.to_jpeg(images.resize(images.crop_around(t1, box, 0.9), 0.8))
        )
    assert run_cli(["enroll", "-q", str(people)], source, tmp_path).returncode == 0
    queries = []
    for k, box in enumerate(t1_boxes):
        query = tmp_path / f"query{k}.jpg"
        query.write_bytes(images.to_jpeg(images.flip(images.crop_around(t1, box, 0.4))))
        queries.append(query)
    group = tmp_path / "group.jpg"
    group.write_bytes(images.read_bytes("t1.jpg"))
    queries.append(group)

    export = tmp_path / "gallery.zip"
    out = run_cli(["gallery", "export", "-q", str(export)], source, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "exported 4 identities and 8 faces" in out.stdout
    assert (export.stat().st_mode & 0o777) == 0o600  # biometric data
    with zipfile.ZipFile(export) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["model"] == "buffalo_s" and manifest["faces"] == 8
        assert len(zf.read("crops.bin")) > 8 * 1000  # the crops travel with the faces

    imported = run_cli(["gallery", "import", "-q", str(export)], target, tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "4 new identities, 8 new faces" in imported.stdout
    before, after = identify(source, tmp_path, queries), identify(target, tmp_path, queries)
    assert before == after
    assert sum(1 for answer in before if answer) >= 5  # the enrolled people were found
    # the same file again adds nothing
    again = run_cli(["gallery", "import", "-q", str(export)], target, tmp_path)
    assert "0 new identities, 0 new faces" in again.stdout
    # the target's record shows the import, and its audit chain holds
    audit = run_cli(["audit", "list"], target, tmp_path)
    assert "gallery.import" in audit.stdout


async def test_a_file_of_another_model_is_refused(
    pg_server: str, tmp_path: Path, t1: np.ndarray, t1_boxes: list
) -> None:
    # the same files under another pack name: another model as far as the gallery knows
    other = tmp_path / "other_pack"
    other.mkdir()
    for name in ("scrfd_500m_bnkps.onnx", "w600k_mbf.onnx"):
        os.symlink(default_model_dir() / name, other / name)
    source, target = await new_database(pg_server), await new_database(pg_server)
    people = tmp_path / "people" / "Someone"
    people.mkdir(parents=True)
    (people / "a.jpg").write_bytes(images.to_jpeg(images.crop_around(t1, t1_boxes[0], 0.6)))
    env = {"FACEFIND_MODEL_DIR": str(other)}
    assert run_cli(["enroll", "-q", str(people.parent)], source, tmp_path, env).returncode == 0
    export = tmp_path / "other.zip"
    assert run_cli(["gallery", "export", "-q", str(export)], source, tmp_path, env).returncode == 0
    refused = run_cli(["gallery", "import", "-q", str(export)], target, tmp_path)
    assert refused.returncode == 1
    assert "refused" in refused.stderr and "other_pack" in refused.stderr
    # a damaged file is refused too, before anything is imported
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(export) as zin, zipfile.ZipFile(damaged, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "embeddings.f32":
                data = bytes([data[0] ^ 1]) + data[1:]
            zout.writestr(item, data)
    broken = run_cli(["gallery", "import", "-q", str(damaged)], source, tmp_path, env)
    assert broken.returncode == 1 and "damaged" in broken.stderr


async def test_export_and_import_paths_are_checked_with_one_line_errors(
    pg_server: str, tmp_path: Path
) -> None:
    dsn = await new_database(pg_server)
    missing_folder = tmp_path / "no" / "such" / "gallery.zip"
    out = run_cli(["gallery", "export", "-q", str(missing_folder)], dsn, tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"error: cannot write {missing_folder}: the folder {missing_folder.parent} does not exist"
    )
    out = run_cli(["gallery", "export", "-q", str(tmp_path)], dsn, tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith(f"error: {tmp_path} is a folder: give a file name")
    out = run_cli(["gallery", "import", "-q", str(tmp_path / "nothing.zip")], dsn, tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: no such file: {tmp_path / 'nothing.zip'}"
    out = run_cli(["gallery", "import", "-q", str(tmp_path)], dsn, tmp_path)
    assert out.returncode == 2 and "is a folder, not a gallery file" in out.stderr

    # an existing file is kept unless --force says otherwise
    existing = tmp_path / "existing.zip"
    existing.write_bytes(b"an older export")
    out = run_cli(["gallery", "export", "-q", str(existing)], dsn, tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: {existing} exists already: add --force to overwrite it"
    assert existing.read_bytes() == b"an older export"
    out = run_cli(["gallery", "export", "-q", "--force", str(existing)], dsn, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "exported 0 identities and 0 faces" in out.stdout
    with zipfile.ZipFile(existing) as zf:
        assert json.loads(zf.read("manifest.json"))["faces"] == 0
    assert (existing.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")) == []
