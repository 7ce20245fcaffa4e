"""OpenAPI descriptions of the script and form bodies that `POST /api/scripts` and
`POST /api/forms` accept.

Those routes take DESIGN.md's definition formats as JSON *or* YAML, so they read the raw
body themselves (`qm.web.api_input.parse_definition`) and Litestar cannot infer a request
schema; the operation classes here write it into the OpenAPI document instead. The
schemas describe the fields; the full rules (id patterns, limits, cross-references) are
checked by `scoring.script.parse_script` and `scoring.forms.parse_form`, whose errors
name the field.
"""

from dataclasses import dataclass

from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType

STRING = Schema(type=OpenAPIType.STRING)
NUMBER = Schema(type=OpenAPIType.NUMBER)
BOOLEAN = Schema(type=OpenAPIType.BOOLEAN)
STRINGS = Schema(type=OpenAPIType.ARRAY, items=STRING)


def _object(needed: list[str], **properties: Schema) -> Schema:
    return Schema(type=OpenAPIType.OBJECT, required=needed, properties=dict(properties))


KEY_POINT = _object(
    ["id", "phrases"],
    id=STRING,
    label=STRING,
    phrases=Schema(type=OpenAPIType.ARRAY, items=STRING, description="Alternatives."),
    speaker=Schema(type=OpenAPIType.STRING, enum=["agent", "customer", "any"]),
    within_seconds=Schema(
        type=[OpenAPIType.NUMBER, OpenAPIType.NULL], description="Must start within N s."
    ),
    after=Schema(type=OpenAPIType.ARRAY, items=STRING, description="Ids that must come earlier."),
    required=BOOLEAN,
    critical=Schema(type=OpenAPIType.BOOLEAN, description="A miss fails the whole call."),
    weight=NUMBER,
)
FORBIDDEN = _object(["id", "phrases"], id=STRING, phrases=STRINGS, critical=BOOLEAN)
SCRIPT = Schema(
    type=OpenAPIType.OBJECT,
    title="Script",
    description="A call script in DESIGN.md's format.",
    required=["id", "name", "language", "key_points"],
    properties={
        "id": STRING,
        "name": STRING,
        "language": Schema(type=OpenAPIType.STRING, enum=["en", "zh"]),
        "key_points": Schema(type=OpenAPIType.ARRAY, items=KEY_POINT),
        "forbidden": Schema(type=OpenAPIType.ARRAY, items=FORBIDDEN),
    },
)

FORM_ITEM = _object(
    ["id"],
    id=STRING,
    label=STRING,
    type=Schema(type=OpenAPIType.STRING, enum=["yes_no", "partial", "scale", "count"]),
    weight=NUMBER,
    critical=BOOLEAN,
    na_allowed=BOOLEAN,
    deduction=Schema(type=OpenAPIType.NUMBER, description="Points off per occurrence."),
    key_point=Schema(
        type=[OpenAPIType.STRING, OpenAPIType.NULL],
        description="The script key point that prefills this item.",
    ),
)
SECTION = _object(
    ["id", "items"],
    id=STRING,
    label=STRING,
    weight=NUMBER,
    items=Schema(type=OpenAPIType.ARRAY, items=FORM_ITEM),
)
FORM = Schema(
    type=OpenAPIType.OBJECT,
    title="EvaluationForm",
    description="An evaluation form in the format of scoring/forms.py.",
    required=["id", "sections"],
    properties={
        "id": STRING,
        "name": STRING,
        "scoring": Schema(type=OpenAPIType.STRING, enum=["additive", "deductive"]),
        "sections": Schema(type=OpenAPIType.ARRAY, items=SECTION),
    },
)

# The media types a definition may be sent as; anything not JSON is read as YAML.
DEFINITION_MEDIA_TYPES = ("application/json", "application/yaml")


def definition_body(schema: Schema, description: str) -> RequestBody:
    """A required request body of `schema`, as JSON or as YAML."""
    return RequestBody(
        required=True,
        description=description,
        content={media: OpenAPIMediaType(schema=schema) for media in DEFINITION_MEDIA_TYPES},
    )


@dataclass
class ScriptUploadOperation(Operation):
    """The operation of `POST /api/scripts`, with its request body described."""

    def __post_init__(self) -> None:
        self.request_body = definition_body(
            SCRIPT, "The script, as JSON (application/json) or YAML (application/yaml)."
        )


@dataclass
class FormUploadOperation(Operation):
    """The operation of `POST /api/forms`, with its request body described."""

    def __post_init__(self) -> None:
        self.request_body = definition_body(
            FORM, "The form, as JSON (application/json) or YAML (application/yaml)."
        )
