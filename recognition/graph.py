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
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _channel_slopes(slopes: np.ndarray) -> np.ndarray | None:
    """PRelu slopes as a (C,) array, or None when they are not one float32 constant per channel
    of an NCHW tensor."""
    if slopes.dtype != np.float32:
        return None
    # (C, 1, 1) and (1, C, 1, 1) broadcast per channel of NCHW; (C,) would broadcast along W.
    if slopes.ndim == 3 and slopes.shape[1:] == (1, 1):
        return slopes.reshape(-1)
    if slopes.ndim == 4 and slopes.shape[0] == 1 and slopes.shape[2:] == (1, 1):
        return slopes.reshape(-1)
    return None


def _ranks(model: Any) -> dict[str, int]:
    """The rank of every tensor shape inference can tell."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # a model shape inference cannot read is left as it is
        return {}
    ranks: dict[str, int] = {}
    for value in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output):
        tensor = value.type.tensor_type
        if tensor.HasField("shape"):
            ranks[value.name] = len(tensor.shape.dim)
    return ranks


def prelu_as_relu(model: Any) -> int:
    """Rewrite, in place, each PRelu that has one constant slope `<= 1` per channel of a 4-D
    input as `x + Relu(depthwise_conv_{a-1}(x))`; return how many were rewritten.

    Any other PRelu (slopes above 1, other shapes, computed slopes, unknown rank) is kept."""
    from onnx import helper, numpy_helper

    graph = model.graph
    ranks = _ranks(model)
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
        is_prelu = node.op_type == "PRelu" and node.domain in ("", "ai.onnx")
        if is_prelu and node.input[1] in constants:
            slopes = _channel_slopes(numpy_helper.to_array(constants[node.input[1]]))
        if slopes is None or ranks.get(node.input[0]) != 4 or not bool(np.all(slopes <= 1.0)):
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
