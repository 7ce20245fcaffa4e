"""Monthly reports e-mailed through a real SMTP server on loopback (aiosmtpd)."""

import email
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.db import session_scope
from qm.domain.mail import Mailer, MailError, SmtpMailer
from qm.domain.report_archive import read_report
from qm.domain.report_delivery import (
    MAX_ATTEMPTS,
    deliver_due,
    monthly_reports,
    retry_delay,
)
from qm.i18n import gettext, use_locale
from qm.models import DeliveryState, Report, ReportDelivery, ReportKind
from scoring.period import Period
from tests.qm.commands.cli import invoke
from tests.qm.reports_world import FakeRenderer, build_world

PERIOD = Period(2026, 11)
NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
SENDER = "qm@example.com"


class Inbox:
    """An aiosmtpd handler that keeps what it receives, and refuses the first `refuse` messages."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.refuse = 0

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 mailbox busy, try later"
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, SmtpMailer]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, SmtpMailer(host="127.0.0.1", port=port, timeout=5)
    finally:
        controller.stop()


@pytest.fixture
def world(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        build_world(session)
    return engine


def run_month(
    engine: Engine, folder: Path, *, resend: bool = False, renderer: FakeRenderer | None = None
) -> int:
    """The monthly job with sending on; returns how many e-mails it queued."""
    run = monthly_reports(
        engine,
        folder=folder,
        renderer=renderer or FakeRenderer(),
        period=PERIOD,
        default_language="en",
        send=True,
        resend=resend,
    )
    assert run.no_address == ["nomail"]
    return len(run.queued)


def deliver(engine: Engine, folder: Path, mailer: Mailer, now: datetime = NOW) -> tuple[int, int]:
    run = deliver_due(engine, folder=folder, mailer=mailer, sender=SENDER, now=now)
    return run.sent, run.failed


def deliveries(engine: Engine) -> list[ReportDelivery]:
    with Session(engine) as session:
        return list(session.exec(select(ReportDelivery).order_by(col(ReportDelivery.id))).all())


def test_each_manager_gets_the_team_report_in_their_language(
    world: Engine, tmp_path: Path, inbox: tuple[Inbox, SmtpMailer]
) -> None:
    handler, mailer = inbox
    renderer = FakeRenderer()
    assert run_month(world, tmp_path, renderer=renderer) == 3  # mia, 王芳 (T1), max (T2)
    # T1 is rendered once per manager language; T2's manager chose none: the default.
    assert sorted(c for c in renderer.calls if c[0] == "team") == [
        ("team", "T1", "2026-11", "en"),
        ("team", "T1", "2026-11", "zh-CN"),
        ("team", "T2", "2026-11", "en"),
    ]
    # Agents who sign in get their own scorecard PDF in the archive, in their language.
    assert ("agent", "a-1", "2026-11", "zh-CN") in renderer.calls
    assert deliver(world, tmp_path, mailer) == (3, 0)

    (english,) = handler.to("mia@example.com")
    (chinese,) = handler.to("wang@example.com")
    assert english["From"] == SENDER and english["To"] == "mia@example.com"
    assert english["Subject"] == "Monthly QA report: 一组, November 2026"
    with use_locale("zh-CN"):
        expected = gettext(
            "Monthly QA report: %(team)s, %(period)s", team="一组", period="2026年11月"
        )
    assert chinese["Subject"] == expected and expected != english["Subject"]
    assert "2026年11月" in chinese.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with Session(world) as session:
        stored = {
            r.language: r
            for r in session.exec(select(Report).where(col(Report.team_id) == "T1")).all()
            if r.kind == ReportKind.TEAM
        }
    for message, language in ((english, "en"), (chinese, "zh-CN")):
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_filename() == f"team-T1-2026-11-{language}.pdf"
        pdf = attachment.get_content()
        assert pdf.startswith(b"%PDF") and pdf == read_report(tmp_path, stored[language])
    assert all(d.state == DeliveryState.SENT and d.attempts == 1 for d in deliveries(world))


def test_a_failing_server_then_a_working_one_sends_exactly_once(
    world: Engine, tmp_path: Path, inbox: tuple[Inbox, SmtpMailer]
) -> None:
    handler, mailer = inbox
    run_month(world, tmp_path)
    down = SmtpMailer(host="127.0.0.1", port=free_port(), timeout=2)  # nothing listens
    assert deliver(world, tmp_path, down) == (0, 3)
    failed = deliveries(world)
    assert {d.state for d in failed} == {DeliveryState.FAILED}
    assert all(d.last_error and "127.0.0.1" in d.last_error for d in failed)
    assert all(d.next_attempt_at == NOW + retry_delay(1) for d in failed)

    # The server answers now, but refuses the first message (a temporary 451).
    handler.refuse = 1
    assert deliver(world, tmp_path, mailer) == (0, 0)  # not due before the back-off
    later = NOW + retry_delay(1)
    assert deliver(world, tmp_path, mailer, later) == (2, 1)
    refused = [d for d in deliveries(world) if d.state == DeliveryState.FAILED]
    assert len(refused) == 1 and "451" in (refused[0].last_error or "")
    assert refused[0].next_attempt_at == later + retry_delay(2)
    assert deliver(world, tmp_path, mailer, later + retry_delay(2)) == (1, 0)
    # Nothing is due any more, whenever asked.
    assert deliver(world, tmp_path, mailer, later + timedelta(days=30)) == (0, 0)
    for address in ("mia@example.com", "wang@example.com", "max@example.com"):
        assert len(handler.to(address)) == 1
    assert {d.state for d in deliveries(world)} == {DeliveryState.SENT}


def test_a_rerun_sends_no_duplicate_and_resend_sends_one_more(
    world: Engine, tmp_path: Path, inbox: tuple[Inbox, SmtpMailer]
) -> None:
    handler, mailer = inbox
    run_month(world, tmp_path)
    deliver(world, tmp_path, mailer)
    assert run_month(world, tmp_path) == 0
    assert deliver(world, tmp_path, mailer) == (0, 0)
    assert len(handler.to("mia@example.com")) == 1

    assert run_month(world, tmp_path, resend=True) == 3
    assert deliver(world, tmp_path, mailer) == (3, 0)
    assert len(handler.to("mia@example.com")) == 2
    assert sorted(d.round for d in deliveries(world)) == [0, 0, 0, 1, 1, 1]
    # The archive keeps one PDF per team and language however often the month is rerun.
    with Session(world) as session:
        teams = session.exec(select(Report).where(col(Report.kind) == ReportKind.TEAM)).all()
    assert len(teams) == 3


def test_a_send_gives_up_after_the_last_attempt(world: Engine, tmp_path: Path) -> None:
    run_month(world, tmp_path)
    down = SmtpMailer(host="127.0.0.1", port=free_port(), timeout=2)
    now = NOW
    for _ in range(MAX_ATTEMPTS):
        deliver(world, tmp_path, down, now)
        now += timedelta(days=1)
    assert deliver(world, tmp_path, down, now + timedelta(days=30)) == (0, 0)
    assert all(d.attempts == MAX_ATTEMPTS and d.next_attempt_at is None for d in deliveries(world))


def test_smtp_mailer_reports_an_unreachable_server() -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = SENDER, "x@example.com", "x"
    with pytest.raises(MailError, match=r"127\.0\.0\.1"):
        SmtpMailer(host="127.0.0.1", port=free_port(), timeout=2)(message)


class SettingsRenderer(FakeRenderer):
    """FakeRenderer built as the command builds its renderer: from the settings."""

    def __init__(self, settings: object) -> None:
        super().__init__()


def test_qm_report_monthly_send_then_rerun_then_resend(
    world: Engine,
    db_url: str,
    tmp_path: Path,
    inbox: tuple[Inbox, SmtpMailer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler, mailer = inbox
    monkeypatch.setattr("qm.domain.report_rendering.PdfRenderer", SettingsRenderer)
    env = {
        "QM_SMTP_HOST": mailer.host,
        "QM_SMTP_PORT": str(mailer.port),
        "QM_SMTP_FROM": SENDER,
        "QM_REPORT_DIR": str(tmp_path / "archive"),
        "QM_PUBLIC_URL": "https://qm.example.com/",
    }
    out = tmp_path / "out"
    args = ("report", "monthly", "--period", "2026-11", "--team", "T1", "--out", str(out))
    first = invoke(db_url, *args, "--send", **env)
    assert first.exit_code == 0, first.output
    assert "2 e-mail(s) queued" in first.output and "2 sent, 0 failed" in first.output
    assert "not sent to nomail" in first.output
    (message,) = handler.to("mia@example.com")
    body = message.get_body(("plain",))
    assert body is not None and "https://qm.example.com/reports" in body.get_content()
    assert sorted(p.name for p in out.iterdir()) == [
        "agent-a-1-2026-11-zh-CN.pdf",
        "team-T1-2026-11-en.pdf",
        "team-T1-2026-11-zh-CN.pdf",
    ]
    again = invoke(db_url, *args, "--send", **env)
    assert "0 e-mail(s) queued" in again.output and "0 sent" in again.output
    forced = invoke(db_url, *args, "--send", "--resend", **env)
    assert "2 sent, 0 failed" in forced.output
    assert len(handler.to("mia@example.com")) == 2
    assert len(handler.to("wang@example.com")) == 2
    assert handler.to("max@example.com") == []  # --team T1 only

    refused = invoke(db_url, "report", "monthly", "--period", "2026-11", "--resend", **env)
    assert refused.exit_code == 2 and "--resend needs --send" in refused.output
    no_server = invoke(db_url, "report", "monthly", "--period", "2026-11", "--send")
    assert no_server.exit_code == 2 and "QM_SMTP_HOST" in no_server.output
    bad_month = invoke(db_url, "report", "monthly", "--period", "2026-13", **env)
    assert bad_month.exit_code == 2 and "--period" in bad_month.output


def test_a_pass_running_meanwhile_leaves_an_e_mail_being_sent_alone(
    world: Engine, tmp_path: Path, inbox: tuple[Inbox, SmtpMailer]
) -> None:
    handler, mailer = inbox
    run_month(world, tmp_path)
    inner: list[tuple[int, int]] = []

    def slow(message: EmailMessage) -> None:
        # Another process's pass, while this message is on its way.
        inner.append(deliver(world, tmp_path, mailer))
        mailer(message)

    # The outer pass claimed the first e-mail; the inner one, running meanwhile, sent the
    # other two and left the claimed one alone; the outer then found those already sent.
    assert deliver(world, tmp_path, slow) == (1, 0)
    assert inner == [(2, 0)]
    for address in ("mia@example.com", "wang@example.com", "max@example.com"):
        assert len(handler.to(address)) == 1
