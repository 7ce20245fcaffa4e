"""The per-call pipeline: transcription, key-point checking, metrics.

`work` holds what a run shares and what a call carries through it; `transcribe`,
`keypoints` and `metrics` are the stages; `stages` orders them and runs one stage of one
call; `runner` runs calls (`process_call`, `process_pending`); `jobs` runs several
`process_pending` in worker processes (`qm process --jobs N`); `queued` runs one stage of
one call as a Celery task does (`qm.workers`, `qm worker`); `progress` counts stages
and queued tasks (`qm status`).
"""

from qm.domain.pipeline.jobs import WorkerFailed, process_parallel
from qm.domain.pipeline.runner import process_call, process_pending, unfinished_call_ids
from qm.domain.pipeline.stages import STAGES
from qm.domain.pipeline.work import AsrProvider, PipelineContext, ProcessReport

__all__ = [
    "STAGES",
    "AsrProvider",
    "PipelineContext",
    "ProcessReport",
    "WorkerFailed",
    "process_call",
    "process_parallel",
    "process_pending",
    "unfinished_call_ids",
]
