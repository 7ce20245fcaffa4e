"""The project's own errors. Domain code raises these; the web layer maps them to HTTP.

QMError                HTTP status (see `http_status`)
├── NotFound           404
├── Forbidden          403
├── Conflict           409
└── ValidationFailed   422  bad input, naming the file, row and field

Each class carries the HTTP status and title it maps to, so this module is the one place
that decides which status an error gets. It imports nothing from the web framework: domain
modules and the CLI import it too. `qm.web.errors` renders the result (an HTML page, a
problem+json body, or a redirect to the login page).
"""


class QMError(Exception):
    """Base class of the application's errors."""

    status_code: int = 500
    title: str = "Internal Server Error"


class NotFound(QMError):
    """The thing asked for does not exist (or is not visible to this user)."""

    status_code = 404
    title = "Not Found"


class Forbidden(QMError):
    """The user may not do this."""

    status_code = 403
    title = "Forbidden"


class Conflict(QMError):
    """The change clashes with what is stored (e.g. a duplicate name)."""

    status_code = 409
    title = "Conflict"


class ValidationFailed(QMError):
    """Input was rejected; says which file, row and field, and why."""

    status_code = 422
    title = "Invalid input"

    def __init__(self, file: str, row: int | None, field: str | None, message: str) -> None:
        self.file = file
        self.row = row
        self.field = field
        self.message = message
        parts = [file]
        if row is not None:
            parts.append(f"row {row}")
        if field is not None:
            parts.append(f"field {field}")
        super().__init__(f"{', '.join(parts)}: {message}")


def http_status(exc: QMError) -> tuple[int, str]:
    """The HTTP status code and title that `exc` maps to."""
    return exc.status_code, exc.title
