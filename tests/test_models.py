"""Model packs: the default verified, a wrong hash or an incomplete folder refused, a custom
pack's files found, ONNX thread counts set."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from recognition import (
    ModelError,
)
from recognition.models import (
    DEFAULT_DETECTOR_FILE,
    DEFAULT_PACK_NAME,
    DEFAULT_RECOGNIZER_FILE,
    DEFAULT_SHA256,
    default_model_dir,
    resolve_model_pack,
    session_options,
    sha256_file,
    verify_sha256,
)

# --- models -------------------------------------------------------------------------------------


def test_default_model_pack_is_verified() -> None:
    pack = resolve_model_pack(None)
    assert pack.name == DEFAULT_PACK_NAME
    assert pack.detector_path == default_model_dir() / DEFAULT_DETECTOR_FILE
    assert pack.detector_sha256 == DEFAULT_SHA256[DEFAULT_DETECTOR_FILE]
    assert pack.recognizer_sha256 == DEFAULT_SHA256[DEFAULT_RECOGNIZER_FILE]


def test_model_file_with_wrong_hash_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "w600k_mbf.onnx"
    model.write_bytes(b"not the model you are looking for")
    with pytest.raises(ModelError) as raised:
        verify_sha256(model, DEFAULT_SHA256[DEFAULT_RECOGNIZER_FILE])
    message = str(raised.value)
    assert "w600k_mbf.onnx" in message
    assert DEFAULT_SHA256[DEFAULT_RECOGNIZER_FILE] in message
    assert sha256_file(model) in message


def test_custom_pack_picks_detector_and_recognizer(tmp_path: Path) -> None:
    source = default_model_dir()
    pack_dir = tmp_path / "my_pack"
    pack_dir.mkdir()
    # Links keep the test fast; names mimic InsightFace's buffalo packs plus a landmark model.
    (pack_dir / "det_500m.onnx").symlink_to(source / DEFAULT_DETECTOR_FILE)
    (pack_dir / "w600k_mbf.onnx").symlink_to(source / DEFAULT_RECOGNIZER_FILE)
    (pack_dir / "2d106det.onnx").symlink_to(source / "2d106det.onnx")
    pack = resolve_model_pack(pack_dir)
    assert pack.name == "my_pack"
    assert pack.detector_path.name == "det_500m.onnx"
    assert pack.recognizer_path.name == "w600k_mbf.onnx"
    assert pack.recognizer_sha256 == DEFAULT_SHA256[DEFAULT_RECOGNIZER_FILE]


def test_incomplete_model_dirs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model_pack(tmp_path / "missing")
    with pytest.raises(ModelError, match=r"no \.onnx"):
        resolve_model_pack(tmp_path)
    shutil.copy(default_model_dir() / DEFAULT_DETECTOR_FILE, tmp_path / "det.onnx")
    with pytest.raises(ModelError, match="no face recognizer"):
        resolve_model_pack(tmp_path)
    (tmp_path / "broken.onnx").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        resolve_model_pack(tmp_path)


def test_session_options_set_thread_counts() -> None:
    options = session_options(3)
    assert options.intra_op_num_threads == 3
    assert options.inter_op_num_threads == 1
