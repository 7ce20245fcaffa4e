"""A result's English note can be read back as its template and values (for translation)."""

import pytest

from scoring import result_notes as rn


@pytest.mark.parametrize(
    ("template", "params"),
    [
        (rn.NOT_FOUND, {}),
        (rn.LOW_CONFIDENCE, {}),
        (rn.WRONG_SPEAKER, {"heard": "customer", "wanted": "agent"}),
        (rn.TOO_LATE, {"start": "95.0", "limit": "30"}),
        (rn.NEVER_BEFORE, {"other": "verify"}),
        (rn.TOO_EARLY, {"other": "verify"}),
        (rn.UNSURE_BEFORE, {"other": "greeting.v2"}),
        (rn.REJECTED, {}),
    ],
)
def test_every_note_reads_back_as_its_template_and_values(
    template: str, params: dict[str, str]
) -> None:
    text = rn.note(template, **params)
    assert "%(" not in text
    assert rn.parse_note(text) == (template, params)


def test_other_text_is_not_a_note() -> None:
    assert rn.parse_note("the agent was polite") is None
    assert rn.parse_note("before") is None
