"""No input makes the app answer 5xx.

Schemathesis generates requests for every operation of the app's own OpenAPI schema
(`/schema/openapi.json`), sent through the real app with a TestClient that is signed in
as each role (and once signed out, with the random cookies and bearer tokens schemathesis
makes up). The HTML call list is not in the schema, so hypothesis writes its query strings.
Both are derandomized: the same examples run every time, so a failure reproduces.
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis.generation.case import Case

from qm.models import Role
from tests.factories import make_user
from tests.qm.web.conftest import Client, login
from tests.qm.web.test_calls_list import build_calls

ROLES = [Role.ADMIN, Role.MANAGER, Role.REVIEWER, Role.AGENT, None]  # None: signed out
# Examples per operation and role; small enough that the whole file runs in well under a
# minute, large enough to hit every parameter with odd text, numbers and lengths.
EXAMPLES = 30
PROPERTY = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def sign_in(client: Client, seed: Callable[..., None], role: Role | None) -> str:
    """Seed the calls and sign `client` in as a user of `role`; returns a label."""
    seed(build_calls)
    if role is None:
        return "signed out"
    name = f"user-{role.value}"
    agent = "a-1" if role == Role.AGENT else None
    seed(lambda s: make_user(s, name, role, agent_id=agent))
    login(client, name)
    return role.value


def _request_kwargs(client: Client, case: Case, signed_in: bool) -> dict[str, Any]:
    """The case as httpx keyword arguments, keeping the client's own sign-in."""
    sent = case.as_transport_kwargs(base_url=str(client.base_url))
    headers = {k: v for k, v in sent.get("headers", {}).items() if k.lower() != "cookie"}
    if signed_in:
        # Made-up credentials would replace the session this run is about.
        headers.pop("Authorization", None)
        if sent["method"].upper() in UNSAFE and "csrftoken" in client.cookies:
            headers["x-csrftoken"] = client.cookies["csrftoken"]
    kwargs: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"],
        "params": sent.get("params") or None,
        "headers": headers,
    }
    if "json" in sent:
        kwargs["json"] = sent["json"]
    if "data" in sent:
        data = sent["data"]
        kwargs["content" if isinstance(data, bytes | str) else "data"] = data
    if "files" in sent:
        kwargs["files"] = sent["files"]
    return kwargs


def _file_content(part: Any) -> Any:
    """The content of one multipart file as httpx takes it: `content` or a tuple
    `(filename, content[, content_type])`."""
    if isinstance(part, tuple):
        return part[1] if len(part) > 1 else part[0]
    return part


def _encodable(kwargs: dict[str, Any]) -> bool:
    """False for what no HTTP client can send: text with lone surrogates, non-Latin-1
    header values, a multipart file whose content is not bytes or text (httpx fails to
    write the body itself, which would read as the server's 500)."""
    files = kwargs.get("files") or {}
    parts = files.values() if isinstance(files, dict) else [p for _, p in files]
    if any(not isinstance(_file_content(p), bytes | str) for p in parts):
        return False
    try:
        for value in (kwargs["params"] or {}).values():
            str(value).encode("utf-8")
        for value in kwargs["headers"].values():
            str(value).encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
def test_no_api_operation_answers_5xx(
    client: Client, seed: Callable[..., None], role: Role | None
) -> None:
    label = sign_in(client, seed, role)
    schema = schemathesis.openapi.from_dict(client.get("/schema/openapi.json").json())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert any(op.path == "/api/calls" for op in operations)

    for operation in operations:

        @PROPERTY
        @given(case=operation.as_strategy())
        def never_5xx(case: Case) -> None:
            kwargs = _request_kwargs(client, case, signed_in=role is not None)
            assume(_encodable(kwargs))
            response = client.request(**kwargs)
            assert response.status_code < 500, (
                f"{label}: {kwargs['method']} {kwargs['url']} params={kwargs['params']!r} "
                f"-> {response.status_code} {response.text[:300]}"
            )

        never_5xx()


# Values that have broken the call list before, and text of every kind besides.
ODD = st.sampled_from(
    [
        "99999999999999999999",
        "9999-12-31",
        "0001-01-01",
        "1e308",
        "nan",
        "-inf",
        "a" * 5_000,  # far over every cap (the 60,000-character case is in test_input_bounds)
        "\x00",
        "%",
        "_",
        "2024-02-30",
    ]
)
PARAMS = [
    "agent",
    "queue",
    "reason",
    "from",
    "to",
    "status",
    "compliance_below",
    "critical",
    "q",
    "page",
]
QUERY = st.dictionaries(
    st.sampled_from(PARAMS),
    st.one_of(ODD, st.text(st.characters(exclude_categories=["Cs"]), max_size=30)),
    max_size=4,
)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
def test_call_list_page_never_answers_5xx(
    client: Client, seed: Callable[..., None], role: Role | None
) -> None:
    label = sign_in(client, seed, role)

    @PROPERTY
    @given(query=QUERY)
    def never_5xx(query: dict[str, str]) -> None:
        url = f"/calls?{urlencode(query)}"
        response = client.get(url, follow_redirects=False)
        assert response.status_code < 500, f"{label}: {url[:300]} -> {response.status_code}"
        if role is not None and response.status_code == 422:
            # The error page names the parameter that was refused.
            assert any(f"field {name}" in response.text for name in query), response.text

    never_5xx()


@pytest.mark.parametrize("role", [Role.AGENT, Role.REVIEWER], ids=lambda r: r.value)
def test_call_page_never_answers_5xx_for_any_id(
    client: Client, seed: Callable[..., None], role: Role
) -> None:
    label = sign_in(client, seed, role)

    @PROPERTY
    @given(call_id=st.one_of(ODD, st.text(st.characters(exclude_categories=["Cs"]), min_size=1)))
    def never_5xx(call_id: str) -> None:
        url = f"/calls/{quote(call_id, safe='')}"
        response = client.get(url, follow_redirects=False)
        assert response.status_code < 500, f"{label}: {url[:300]} -> {response.status_code}"

    never_5xx()
