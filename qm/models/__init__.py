"""SQLModel tables. Import from here so that every table is registered on the metadata."""

from qm.models import transcript_search  # noqa: F401  (the search index's DDL events)
from qm.models.audit import AuditEvent
from qm.models.base import UTCDateTime, utcnow
from qm.models.calls import Call, CallStage, Queue, Stage, StageStatus, UnansweredContact
from qm.models.evaluations import (
    CalibrationSession,
    CalibrationState,
    Dispute,
    DisputeOutcome,
    DisputeState,
    Evaluation,
    EvaluationChange,
    EvaluationForm,
    EvaluationKind,
    EvaluationState,
    FormAssignment,
)
from qm.models.imports import ImportJob, ImportKind, ImportState
from qm.models.mystery import MysteryShop
from qm.models.overrides import ExemplarSuggestion, KeyPointExemplar, KeyPointOverride
from qm.models.people import Agent, Customer, Role, Team, User, UserTeam
from qm.models.reports import DeliveryState, Report, ReportDelivery, ReportKind
from qm.models.results import CallMetrics, KeyPointResult, ResultKind
from qm.models.review import AssignmentMode, PickState, ReviewPick, SamplingRule, TargetReason
from qm.models.schedule import RunState, ScheduledRun, SchedulerLease
from qm.models.scripts import Script
from qm.models.security import ApiToken, LoginThrottle, WebSession
from qm.models.site_settings import SITE_SCOPE, SiteSetting
from qm.models.training import TrainingAssignment, TrainingStatus
from qm.models.transcripts import AsrAccuracy, Segment, Transcript, TranscriptKind

__all__ = (
    "SITE_SCOPE",
    "Agent",
    "ApiToken",
    "AsrAccuracy",
    "AssignmentMode",
    "AuditEvent",
    "CalibrationSession",
    "CalibrationState",
    "Call",
    "CallMetrics",
    "CallStage",
    "Customer",
    "DeliveryState",
    "Dispute",
    "DisputeOutcome",
    "DisputeState",
    "Evaluation",
    "EvaluationChange",
    "EvaluationForm",
    "EvaluationKind",
    "EvaluationState",
    "ExemplarSuggestion",
    "FormAssignment",
    "ImportJob",
    "ImportKind",
    "ImportState",
    "KeyPointExemplar",
    "KeyPointOverride",
    "KeyPointResult",
    "LoginThrottle",
    "MysteryShop",
    "PickState",
    "Queue",
    "Report",
    "ReportDelivery",
    "ReportKind",
    "ResultKind",
    "ReviewPick",
    "Role",
    "RunState",
    "SamplingRule",
    "ScheduledRun",
    "SchedulerLease",
    "Script",
    "Segment",
    "SiteSetting",
    "Stage",
    "StageStatus",
    "TargetReason",
    "Team",
    "TrainingAssignment",
    "TrainingStatus",
    "Transcript",
    "TranscriptKind",
    "UTCDateTime",
    "UnansweredContact",
    "User",
    "UserTeam",
    "WebSession",
    "utcnow",
)
