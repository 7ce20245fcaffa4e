"""E-mail over SMTP: the message that carries a report, and sending it.

The server is `QM_SMTP_HOST`/`QM_SMTP_PORT`, signed in to with `QM_SMTP_USER` and
`QM_SMTP_PASSWORD` when a user is set, upgraded with STARTTLS when `QM_SMTP_STARTTLS` is
on; messages come from `QM_SMTP_FROM`. The subject and body are written in the
recipient's language (`use_locale`), as the PDF they carry is.
"""

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from qm.i18n import format_month, use_locale
from qm.i18n import gettext as _
from qm.settings import Settings

# Seconds to wait for the server before a send counts as failed (and is retried later).
SMTP_TIMEOUT = 30


class MailError(Exception):
    """The server refused the message or could not be reached; the text says why."""


class Mailer(Protocol):
    """Something that sends one message (SMTP; a list in a test)."""

    def __call__(self, message: EmailMessage) -> None:
        """Send `message`.

        Raises:
            MailError: it was not sent.
        """


@dataclass(frozen=True, slots=True)
class SmtpMailer:
    """Sends messages through one SMTP server, a connection per message."""

    host: str
    port: int = 25
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = SMTP_TIMEOUT

    @classmethod
    def from_settings(cls, settings: Settings) -> "SmtpMailer | None":
        """The mailer `QM_SMTP_*` describe, or None when no server is set."""
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            user=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )

    def __call__(self, message: EmailMessage) -> None:
        """Send `message`.

        Raises:
            MailError: the server could not be reached, or refused a step or a recipient.
        """
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as server:
                if self.starttls:
                    server.starttls()
                if self.user:
                    server.login(self.user, self.password or "")
                refused = server.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"{self.host}:{self.port}: {exc}") from exc
        if refused:
            raise MailError(f"{self.host}:{self.port}: refused {', '.join(sorted(refused))}")


@dataclass(frozen=True, slots=True)
class ReportMail:
    """What a report's e-mail says: whose report, which month, and the PDF."""

    subject_name: str  # the team's or the agent's name
    period: str  # YYYY-MM; written as the recipient's locale writes a month
    team: bool  # a team report (else an agent's scorecard)
    file_name: str
    pdf: bytes


def archive_link(settings: Settings) -> str | None:
    """The report archive's address for e-mails (None when QM_PUBLIC_URL is not set)."""
    return f"{settings.public_url.rstrip('/')}/reports" if settings.public_url else None


def report_message(
    *,
    sender: str,
    to: str,
    language: str | None,
    mail: ReportMail,
    archive_url: str | None = None,
) -> EmailMessage:
    """The e-mail carrying `mail`'s PDF to `to`, written in `language` (zh-CN or en), with
    a link to the report archive when its address is known."""
    with use_locale(language):
        year, _sep, month = mail.period.partition("-")
        period = format_month(int(year), int(month))
        if mail.team:
            subject = _(
                "Monthly QA report: %(team)s, %(period)s",
                team=mail.subject_name,
                period=period,
            )
            body = _(
                "Attached is the monthly quality report of team %(team)s for %(period)s.",
                team=mail.subject_name,
                period=period,
            )
        else:
            subject = _(
                "Your QA scorecard: %(agent)s, %(period)s",
                agent=mail.subject_name,
                period=period,
            )
            body = _(
                "Attached is the quality scorecard of %(agent)s for %(period)s.",
                agent=mail.subject_name,
                period=period,
            )
        footer = _("The reports of earlier months are in the report archive.")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    link = f"\n{archive_url}" if archive_url else ""
    message.set_content(f"{body}\n\n{footer}{link}\n")
    message.add_attachment(mail.pdf, maintype="application", subtype="pdf", filename=mail.file_name)
    return message
