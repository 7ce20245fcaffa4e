"""A refused edit as the admin pages show it: the field it is about, and why."""

from dataclasses import dataclass

from qm.errors import NotFound, ValidationFailed


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """Why a submitted form was not stored.

    `field` is the path the domain or the scoring library named (`key_points[2].phrases`,
    `fcr`, `modules[0].title`), None when the whole form is meant; `message` is theirs
    (English field-path text, shown as it is inside translated wording).
    """

    field: str | None
    message: str


def problem_of(exc: ValidationFailed | NotFound) -> FieldProblem:
    """The problem a domain error describes."""
    if isinstance(exc, ValidationFailed):
        return FieldProblem(exc.field, exc.message)
    return FieldProblem(None, str(exc))
