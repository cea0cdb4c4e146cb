"""Rewrites of a model's ONNX graph that keep its outputs and make ONNX Runtime faster.

ArcFace recognizers (MobileFaceNet `w600k_mbf`, IResNet `w600k_r50`) put a per-channel PRelu
after almost every convolution. ONNX Runtime's CPU PRelu is a generic broadcast kernel and
cannot stay in the blocked (NCHWc) layout of the convolutions around it: on this CPU PRelu took
52% of `w600k_mbf`'s time, more than all of its convolutions (bench/recognizer.py).

For a slope `a <= 1` the identity

    PRelu(x) = x + (1 - a) * Relu(-x) = x + Relu((a - 1) * x)

holds exactly (for x >= 0 both sides are x; for x < 0 both are a * x). `(a - 1) * x` is a 1x1
depthwise convolution, its Relu fuses into it, and the Add stays in the blocked layout, so the
rewritten graph computes the same function with the kernels ONNX Runtime optimises best. Its
embeddings differ from the original graph's by float rounding only (cosine 0.9999999, tested);
the model file and its SHA-256 are untouched.

The rewritten graph is checked when it is loaded: it and the original run on one fixed input,
and a rewrite that fails or computes something else is dropped for the original graph (slower,
the same embeddings), with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import onnxruntime

logger = logging.getLogger(__name__)

# The load-time check: outputs of the rewritten graph may differ from the original's by float
# rounding only (the recognizer's: 1e-6 of their largest value), far below this.
CHECK_TOLERANCE = 1e-3


def _channel_slopes(slopes: np.ndarray, channels: int | None) -> np.ndarray | None:
    """PRelu slopes as a (C,) array, or None when they are not float32 constants that apply per
    channel of an NCHW tensor with `channels` channels (None: unknown)."""
    if slopes.dtype != np.float32 or slopes.ndim > 4:
        return None
    if slopes.size == 1:
        # One slope shared by every element: per channel once repeated C times, which needs C
        # (a (1,1,1,1) kernel on C channels is not a depthwise convolution).
        return np.full(channels, slopes.reshape(-1)[0], np.float32) if channels else None
    # (C, 1, 1) and (1, C, 1, 1) broadcast per channel of NCHW; (C,) would broadcast along W.
    per_channel = (slopes.ndim == 3 and slopes.shape[1:] == (1, 1)) or (
        slopes.ndim == 4 and slopes.shape[0] == 1 and slopes.shape[2:] == (1, 1)
    )
    if not per_channel or (channels is not None and slopes.size != channels):
        return None
    return slopes.reshape(-1)


def _shapes(model: Any) -> dict[str, tuple[int | None, ...]]:
    """The shape of every tensor shape inference can tell (None for a dimension it cannot)."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # a model shape inference cannot read is left as it is
        return {}
    shapes: dict[str, tuple[int | None, ...]] = {}
    for value in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output):
        tensor = value.type.tensor_type
        if tensor.HasField("shape"):
            shapes[value.name] = tuple(
                d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                for d in tensor.shape.dim
            )
    return shapes


def prelu_as_relu(model: Any) -> int:
    """Rewrite, in place, each PRelu that has one constant slope `<= 1` per channel of a 4-D
    input as `x + Relu(depthwise_conv_{a-1}(x))`; return how many were rewritten. A single
    slope shared by all channels is repeated for each, when the number of channels is known.

    Any other PRelu (slopes above 1, other shapes, computed slopes, unknown rank or channels
    for a shared slope) is kept."""
    from onnx import helper, numpy_helper

    graph = model.graph
    shapes = _shapes(model)
    constants = {init.name: init for init in graph.initializer}
    taken = {n.name for n in graph.node} | {i.name for i in graph.initializer}
    for node in graph.node:
        taken.update(node.output)

    def fresh(base: str) -> str:
        name, k = base, 0
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        return name

    nodes = []
    rewritten = 0
    for node in graph.node:
        slopes = None
        shape = shapes.get(node.input[0]) if node.input else None
        is_prelu = node.op_type == "PRelu" and node.domain in ("", "ai.onnx")
        if is_prelu and shape is not None and len(shape) == 4 and node.input[1] in constants:
            slopes = _channel_slopes(numpy_helper.to_array(constants[node.input[1]]), shape[1])
        if slopes is None or not bool(np.all(slopes <= 1.0)):
            nodes.append(node)
            continue
        x, y = node.input[0], node.output[0]
        base = node.name or y
        weight = numpy_helper.from_array(
            (slopes - np.float32(1.0)).reshape(-1, 1, 1, 1),
            fresh(f"{base}_slope_minus_one"),
        )
        graph.initializer.append(weight)
        scaled, negative = fresh(f"{base}_scaled"), fresh(f"{base}_negative_part")
        nodes += [
            helper.make_node(
                "Conv",
                [x, weight.name],
                [scaled],
                name=fresh(f"{base}_depthwise"),
                group=len(slopes),
                kernel_shape=[1, 1],
            ),
            helper.make_node("Relu", [scaled], [negative], name=fresh(f"{base}_relu")),
            helper.make_node("Add", [x, negative], [y], name=fresh(f"{base}_add")),
        ]
        rewritten += 1
    if rewritten:
        del graph.node[:]
        graph.node.extend(nodes)
    return rewritten


def checked_session(
    path: str,
    options: onnxruntime.SessionOptions,
    rewrite: Callable[[Any], int] = prelu_as_relu,
) -> tuple[onnxruntime.InferenceSession, int]:
    """A session of the model at `path` with `rewrite` applied to its graph, when the rewritten
    session gives the original's outputs on a fixed input; else the original's, with a warning.
    Also returns how many nodes the session's graph has rewritten (0: the original graph).

    The original graph is the reference: a model it cannot load raises as before."""
    import onnx

    providers = ["CPUExecutionProvider"]
    original = onnxruntime.InferenceSession(path, options, providers=providers)
    try:
        model = onnx.load(path)
        rewritten = rewrite(model)
    except Exception as exc:  # onnx raises its own exception types
        logger.warning("model %s: the graph rewrite failed (%s); using the original", path, exc)
        return original, 0
    if not rewritten:
        return original, 0
    try:
        session = onnxruntime.InferenceSession(
            model.SerializeToString(), options, providers=providers
        )
        problem = _differs(original, session)
    except Exception as exc:  # onnxruntime raises its own exception types
        problem = f"fails ({exc})"
    if problem is not None:
        logger.warning(
            "model %s: the rewritten graph (%d nodes rewritten) %s on the load-time check; "
            "using the original graph (slower, same results)",
            path,
            rewritten,
            problem,
        )
        return original, 0
    return session, rewritten


def _differs(
    original: onnxruntime.InferenceSession, rewritten: onnxruntime.InferenceSession
) -> str | None:
    """How the rewritten session's outputs differ from the original's on a fixed input in
    [-1, 1] (a normalised image); None when they agree."""
    rng = np.random.default_rng(20240611)
    feeds = {}
    for value in original.get_inputs():
        if value.type != "tensor(float)":
            return f"cannot be checked (input {value.name} is {value.type})"
        # symbolic dimensions: one image of the recognizers' 112 x 112
        shape = [d if isinstance(d, int) and d > 0 else (1 if i == 0 else 112)
                 for i, d in enumerate(value.shape)]  # fmt: skip
        feeds[value.name] = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
    try:
        expected = original.run(None, feeds)
    except Exception as exc:  # the fixed input does not suit the model: nothing to compare
        return f"cannot be checked ({exc})"
    got = rewritten.run(None, feeds)
    for want, have in zip(expected, got, strict=True):
        want, have = np.asarray(want), np.asarray(have)
        if want.shape != have.shape:
            return f"gives outputs of shape {have.shape}, not {want.shape}"
        scale = float(np.abs(want).max()) if want.size else 0.0
        worst = float(np.abs(have.astype(np.float64) - want).max()) if want.size else 0.0
        if not np.isfinite(have).all() or worst > CHECK_TOLERANCE * max(scale, 1e-6):
            return f"differs from the original by up to {worst:.3g} (outputs up to {scale:.3g})"
    return None
