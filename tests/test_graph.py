"""The recognizer's graph rewrite: PRelu as `x + Relu(depthwise_conv(x))` computes the same
embeddings, on the default model and on small graphs that exercise what must be left alone."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from recognition import Limits
from recognition.graph import checked_session, prelu_as_relu
from recognition.models import recognizer_session, resolve_model_pack, session_options
from recognition.pipeline import FaceAnalyzer, align_face
from tests.images import T1, read_image

CHANNELS = 4


def _prelu_graph(slopes: np.ndarray, rank: int = 4, width: int = 6) -> onnx.ModelProto:
    """A model of one convolution followed by a PRelu with `slopes`, at opset 11 like the packs
    (a 3-D input goes straight to the PRelu)."""
    shape = [1, CHANNELS, 5, width] if rank == 4 else [CHANNELS, 5, width]
    rng = np.random.default_rng(7)
    nodes = []
    inits = [numpy_helper.from_array(slopes.astype(np.float32), "slope")]
    source = "input"
    if rank == 4:
        weight = rng.standard_normal((CHANNELS, CHANNELS, 3, 3)).astype(np.float32)
        inits.append(numpy_helper.from_array(weight, "conv_w"))
        nodes.append(helper.make_node("Conv", ["input", "conv_w"], ["conv"], pads=[1, 1, 1, 1]))
        source = "conv"
    nodes.append(helper.make_node("PRelu", [source, "slope"], ["output"], name="PRelu_0"))
    graph = helper.make_graph(
        nodes,
        "prelu",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), session_options(1), providers=["CPUExecutionProvider"]
    )
    return np.asarray(session.run(None, {"input": x})[0])


def _ops(model: onnx.ModelProto) -> list[str]:
    return [node.op_type for node in model.graph.node]


@pytest.mark.parametrize(
    "slopes",
    [
        np.array([0.25, -0.8, 0.0, 1.0]).reshape(CHANNELS, 1, 1),
        np.array([0.25, -0.8, 0.9, 0.1]).reshape(1, CHANNELS, 1, 1),
    ],
    ids=["C11", "1C11"],
)
def test_per_channel_prelu_is_rewritten_to_the_same_function(slopes: np.ndarray) -> None:
    original = _prelu_graph(slopes)
    rewritten = _prelu_graph(slopes)
    assert prelu_as_relu(rewritten) == 1
    onnx.checker.check_model(rewritten)
    assert "PRelu" not in _ops(rewritten)
    assert _ops(rewritten) == ["Conv", "Conv", "Relu", "Add"]
    # Inputs of both signs and a wide range, so both branches of PRelu are exercised.
    x = (np.random.default_rng(3).standard_normal((1, CHANNELS, 5, 6)) * 10).astype(np.float32)
    expected = _run(original, x)
    assert (expected < 0).any() and (expected > 0).any()
    np.testing.assert_allclose(_run(rewritten, x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 1, 1, 1), (1,), ()])
def test_one_shared_prelu_slope_is_repeated_per_channel_to_the_same_function(
    shape: tuple[int, ...],
) -> None:
    # One slope for every element: the rewrite once made it a (1,1,1,1) kernel that ONNX
    # Runtime refused at run time ("Input channels C is not equal to kernel channels * group").
    slopes = np.full(shape, 0.25)
    original, rewritten = _prelu_graph(slopes), _prelu_graph(slopes)
    assert prelu_as_relu(rewritten) == 1
    onnx.checker.check_model(rewritten)
    assert _ops(rewritten) == ["Conv", "Conv", "Relu", "Add"]
    x = (np.random.default_rng(5).standard_normal((1, CHANNELS, 5, 6)) * 10).astype(np.float32)
    np.testing.assert_allclose(_run(rewritten, x), _run(original, x), rtol=1e-5, atol=1e-5)


def test_a_shared_prelu_slope_on_an_unknown_number_of_channels_is_kept() -> None:
    graph = helper.make_graph(
        [helper.make_node("PRelu", ["input", "slope"], ["output"])],
        "shared",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", "c", 5, 6])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", "c", 5, 6])],
        initializer=[numpy_helper.from_array(np.full((1, 1, 1), 0.25, np.float32), "slope")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    before = model.SerializeToString()
    assert prelu_as_relu(model) == 0
    assert model.SerializeToString() == before


def _saved(model: onnx.ModelProto, folder: Path) -> str:
    path = folder / "model.onnx"
    onnx.save(model, str(path))
    return str(path)


def _depthwise_as_plain_conv(model: onnx.ModelProto) -> int:
    """The rewrite with its depthwise convolution made an ordinary one: it fails at run time."""
    rewritten = prelu_as_relu(model)
    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.name == "group":
                attribute.i = 1
    return rewritten


def _slopes_doubled(model: onnx.ModelProto) -> int:
    """The rewrite with wrong slopes: it runs, and computes another function."""
    rewritten = prelu_as_relu(model)
    for init in model.graph.initializer:
        if init.name.endswith("_slope_minus_one"):
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 2, init.name))
    return rewritten


@pytest.mark.parametrize("rewrite", [_depthwise_as_plain_conv, _slopes_doubled])
def test_a_rewritten_graph_that_fails_the_load_time_check_gives_way_to_the_original(
    rewrite: Callable[[onnx.ModelProto], int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    slopes = np.array([0.25, -0.8, 0.9, 0.1]).reshape(CHANNELS, 1, 1)
    path = _saved(_prelu_graph(slopes), tmp_path)
    session, rewritten = checked_session(path, session_options(1), rewrite)
    assert rewritten == 0
    assert "using the original graph" in caplog.text
    x = (np.random.default_rng(3).standard_normal((1, CHANNELS, 5, 6)) * 10).astype(np.float32)
    expected = _run(_prelu_graph(slopes), x)
    np.testing.assert_array_equal(session.run(None, {"input": x})[0], expected)


def test_a_rewritten_graph_that_passes_the_load_time_check_is_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    path = _saved(_prelu_graph(np.full((1, 1, 1), 0.25)), tmp_path)
    _, rewritten = checked_session(path, session_options(1))
    assert rewritten == 1 and not caplog.records


@pytest.mark.parametrize(
    ("slopes", "rank"),
    [
        # a slope above 1 would need a negative Relu scale: the identity does not hold
        (np.array([0.25, 1.5, 0.5, 0.5]).reshape(CHANNELS, 1, 1), 4),
        # (C,) broadcasts along the width of NCHW, not per channel
        (np.array([0.25, 0.5, 0.5, 0.5]), 4),
        # a 3-D input cannot go through a 2-D convolution
        (np.array([0.25, 0.5, 0.5, 0.5]).reshape(CHANNELS, 1, 1), 3),
    ],
    ids=["slope-above-1", "slopes-along-width", "3d-input"],
)
def test_prelu_the_identity_does_not_cover_is_kept(slopes: np.ndarray, rank: int) -> None:
    # a width of C, so that (C,) slopes broadcast at all
    model = _prelu_graph(slopes, rank, width=CHANNELS)
    before = model.SerializeToString()
    assert prelu_as_relu(model) == 0
    assert model.SerializeToString() == before


def test_default_recognizer_gives_the_same_embeddings_rewritten() -> None:
    pack = resolve_model_pack(None)
    model = onnx.load(str(pack.recognizer_path))
    prelus = _ops(model).count("PRelu")
    assert prelus > 0
    assert prelu_as_relu(model) == prelus
    assert "PRelu" not in _ops(model)

    # The faces of t1.jpg and their mirror images, as the pipeline feeds them.
    image = read_image(T1)
    analyzer = FaceAnalyzer(pack, Limits(), threads=1)
    faces = analyzer.analyze_image(image, "t1").faces
    assert len(faces) == 6
    crops = [align_face(image, face.landmarks) for face in faces]
    crops += [np.ascontiguousarray(c[:, ::-1]) for c in crops]
    blob = ((np.stack(crops)[..., ::-1].astype(np.float32) - 127.5) / 127.5).transpose(0, 3, 1, 2)

    plain = onnxruntime.InferenceSession(
        str(pack.recognizer_path), session_options(1), providers=["CPUExecutionProvider"]
    )
    name = plain.get_inputs()[0].name
    expected = np.concatenate([plain.run(None, {name: blob[i : i + 1]})[0] for i in range(12)])
    _, rewritten = checked_session(str(pack.recognizer_path), session_options(1))
    assert rewritten == prelus  # the load-time check passes on the real model
    session = recognizer_session(pack.recognizer_path, threads=1)
    got = np.concatenate([session.run(None, {name: blob[i : i + 1]})[0] for i in range(12)])
    unit = expected / np.linalg.norm(expected, axis=1, keepdims=True)
    unit_got = got / np.linalg.norm(got, axis=1, keepdims=True)
    assert float((unit * unit_got).sum(axis=1).min()) > 0.99999
    np.testing.assert_allclose(got, expected, atol=1e-4 * float(np.abs(expected).max()))
