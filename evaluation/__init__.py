"""Evaluation of MiMo-Audio checkpoints: the paper's benchmarks, metrics, cached batched generation, reports.

Entry points: ``mimo-audio eval TASK ...`` (see :mod:`evaluation.cli`) or, in Python, a task's ``run``
function (``evaluation.tasks.asr.run(backend, items, run_dir)``) with a backend such as
:class:`evaluation.backend.MiMoAudioBackend`. See ``docs/evaluation.md``.

Names are imported lazily so that ``import evaluation`` (done by the CLI) stays cheap.
"""

import importlib

_EXPORTS = {
    "MiMoAudioBackend": "evaluation.backend",
    "CodecBackend": "evaluation.backend",
    "Generation": "evaluation.requests",
    "GenerationRequest": "evaluation.requests",
    "load_eval_dataset": "evaluation.data",
    "read_manifest": "evaluation.data",
    "write_manifest": "evaluation.data",
    "write_report": "evaluation.report",
    "compare_runs": "evaluation.report",
    "load_transcriber": "evaluation.scorers",
    "load_embedder": "evaluation.scorers",
    "load_judge": "evaluation.judges",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'evaluation' has no attribute {name!r}")
