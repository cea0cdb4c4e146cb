"""The recognizer's cost per face on this CPU: batch sizes and ONNX Runtime session options.

    flock /tmp/facefind-heavy.lock .venv/bin/python -m bench.recognizer --rounds 3

Each variant runs the default pack's recognizer (`w600k_mbf`) on one ONNX thread, as a facefind
worker does, over the same 64 random 112x112 inputs; medians of ms a face are printed, and the
largest difference of its embeddings from the model file's own graph with facefind's session
options. "facefind" is the session facefind runs: the graph with its PRelu nodes rewritten
(recognition/graph.py); the other variants run the file's graph as it is.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from recognition.models import recognizer_session, resolve_model_pack, session_options

FACES = 64


def session(path: str, **changes: Any) -> onnxruntime.InferenceSession:
    """facefind's session options for one thread, with `changes` (keys with a dot are config
    entries) applied."""
    options = session_options(1)
    for key, value in changes.items():
        if "." in key:
            options.add_session_config_entry(key, value)
        else:
            setattr(options, key, value)
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def ms_a_face(sess: onnxruntime.InferenceSession, inputs: np.ndarray, batch: int) -> float:
    name = sess.get_inputs()[0].name
    sess.run(None, {name: inputs[:batch]})  # warm up this shape
    started = time.perf_counter()
    for first in range(0, len(inputs), batch):
        sess.run(None, {name: inputs[first : first + batch]})
    return (time.perf_counter() - started) * 1000.0 / len(inputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    path = str(resolve_model_pack(None).recognizer_path)
    inputs = np.random.default_rng(0).standard_normal((FACES, 3, 112, 112)).astype(np.float32)
    level = onnxruntime.GraphOptimizationLevel
    variants: dict[str, dict[str, Any]] = {
        "file's graph": {},
        "no spinning": {"session.intra_op.allow_spinning": "0"},
        "no memory arena": {"enable_cpu_mem_arena": False},
        "denormals as zero": {"session.set_denormal_as_zero": "1"},
        "basic graph optimisation": {"graph_optimization_level": level.ORT_ENABLE_BASIC},
        "extended graph optimisation": {"graph_optimization_level": level.ORT_ENABLE_EXTENDED},
    }
    sessions = {label: session(path, **changes) for label, changes in variants.items()}
    sessions["facefind (PRelu rewritten)"] = recognizer_session(Path(path), 1)
    name = sessions["file's graph"].get_inputs()[0].name
    reference = sessions["file's graph"].run(None, {name: inputs[:2]})[0]
    rows: dict[tuple[str, int], list[float]] = {}
    all_batches = (1, 2, 4, 8, 16, 32, 64)
    batches = {"file's graph": all_batches, "facefind (PRelu rewritten)": all_batches}
    for _ in range(args.rounds):
        for label, sess in sessions.items():
            for batch in batches.get(label, (1, 2)):
                rows.setdefault((label, batch), []).append(ms_a_face(sess, inputs, batch))
    print(f"{'variant':30} {'batch':>5} {'ms a face':>10} {'max diff':>9}")
    for (label, batch), values in rows.items():
        diff = np.abs(sessions[label].run(None, {name: inputs[:2]})[0] - reference).max()
        print(f"{label:30} {batch:5d} {statistics.median(values):10.2f} {diff:9.1e}")


if __name__ == "__main__":
    main()
