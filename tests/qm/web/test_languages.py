"""The UI in Chinese and English: how a request's language is chosen, the switch in the
page, and the main pages rendered in Chinese (with Chinese names and text in the data)."""

from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from qm.app import create_app
from qm.db import session_scope
from qm.domain.users import get_user, set_language
from qm.models import Role
from qm.settings import Settings
from tests.conftest import SQLITE_ONLY
from tests.factories import T0, make_agent, make_call, make_done, make_metrics, make_user
from tests.qm.web.conftest import Client, csrf_token, login, soup

# How a page's language is chosen and rendered does not depend on the database back end.
pytestmark = SQLITE_ONLY

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
# Nav and page words that must not be left in English on a Chinese page.
ENGLISH = ("Review queue", "Calibration", "Sign out", "Filter", "Handle time")


def lang_of(html: str) -> str:
    """The page's `<html lang>`."""
    tag = soup(html).find("html")
    assert tag is not None
    return str(tag["lang"])


def build_chinese_calls(s: Session) -> None:
    """Two calls of an agent with a Chinese name, one with a Chinese customer and queue."""
    make_agent(s, "a-zh", name="王小明")
    make_call(s, "c-zh-1", agent_id="a-zh", queue="账单", reason="退款", started_at=T0)
    make_done(s, "c-zh-1")
    make_metrics(s, "c-zh-1", compliance=0.75, critical_failed=False, handle_seconds=245)
    make_call(s, "c-zh-2", agent_id="a-zh", started_at=T0)


@pytest.fixture
def zh_reviewer(client: Client, seed: Callable[..., None]) -> Client:
    """A signed-in reviewer whose stored language is Chinese."""

    def build(s: Session) -> None:
        make_user(s, "rita", Role.REVIEWER)
        set_language(s, "rita", "zh-CN", actor="test")
        build_chinese_calls(s)

    seed(build)
    login(client, "rita")
    return client


# --- how the language is chosen ---------------------------------------------------------


def test_accept_language_chooses_chinese_and_english(client: Client) -> None:
    assert lang_of(client.get("/login", headers=ZH).text) == "zh-CN"
    assert lang_of(client.get("/login", headers=EN).text) == "en"
    page = client.get("/login", headers={"Accept-Language": "fr-FR,zh;q=0.5,en;q=0.4"}).text
    assert lang_of(page) == "zh-CN"
    assert "用户名" in page and "Username" not in page


def test_site_default_without_any_preference(client: Client, settings: Settings) -> None:
    assert lang_of(client.get("/login").text) == "en"
    chinese_site = settings.model_copy(update={"default_language": "zh-CN"})
    with TestClient(create_app(chinese_site)) as other:
        assert lang_of(other.get("/login").text) == "zh-CN"
        # A browser's stated preference still wins over the site's default.
        assert lang_of(other.get("/login", headers=EN).text) == "en"


@pytest.mark.parametrize("value", ["zh", "zh-CN", "zh_CN", "zh-Hans"])
def test_lang_parameter_wins_and_is_remembered(client: Client, value: str) -> None:
    response = client.get(f"/login?lang={value}", headers=EN)
    assert lang_of(response.text) == "zh-CN"
    assert "qm_lang=zh-CN" in response.headers["set-cookie"]
    # The cookie now decides, over the browser's Accept-Language.
    assert lang_of(client.get("/login", headers=EN).text) == "zh-CN"
    assert lang_of(client.get("/login?lang=en", headers=ZH).text) == "en"
    assert lang_of(client.get("/login", headers=ZH).text) == "en"


def test_unknown_language_is_ignored_not_an_error(client: Client) -> None:
    response = client.get("/login?lang=xx-YY", headers=ZH)
    assert response.status_code == 200
    assert lang_of(response.text) == "zh-CN"
    assert "set-cookie" not in response.headers or "qm_lang" not in response.headers["set-cookie"]
    client.cookies.set("qm_lang", "klingon")
    assert lang_of(client.get("/login", headers=EN).text) == "en"


def test_the_users_language_beats_the_browsers(zh_reviewer: Client) -> None:
    page = zh_reviewer.get("/calls", headers=EN)
    assert page.status_code == 200
    assert lang_of(page.text) == "zh-CN"
    assert "复核队列" in page.text


def test_switch_sets_cookie_and_the_users_language(
    client: Client, seed: Callable[..., None], engine: Engine
) -> None:
    seed(lambda s: make_user(s, "rita", Role.REVIEWER))
    login(client, "rita")
    response = client.post(
        "/language",
        data={
            "lang": "zh-CN",
            "back": "/calls?page=1",
            "_csrf_token": csrf_token(client, "/calls"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/calls?page=1"
    assert "qm_lang=zh-CN" in response.headers["set-cookie"]
    with session_scope(engine) as s:
        assert get_user(s, "rita").language == "zh-CN"
    client.cookies.clear()  # signed out of the cookie: the stored language still holds
    login(client, "rita")
    assert lang_of(client.get("/calls", headers=EN).text) == "zh-CN"
    back = client.post(
        "/language",
        data={"lang": "en", "back": "/calls", "_csrf_token": csrf_token(client, "/calls")},
        follow_redirects=False,
    )
    assert "qm_lang=en" in back.headers["set-cookie"]
    with session_scope(engine) as s:
        assert get_user(s, "rita").language == "en"
    assert lang_of(client.get("/calls", headers=ZH).text) == "en"


@pytest.mark.parametrize(
    "back", ["https://evil.example/", "//evil.example/x", "/\\evil.example/x", "calls", ""]
)
def test_switch_only_leads_back_into_the_site(client: Client, back: str) -> None:
    response = client.post(
        "/language",
        data={"lang": "zh-CN", "back": back, "_csrf_token": csrf_token(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_switch_without_csrf_token_is_refused(client: Client) -> None:
    client.get("/login")
    response = client.post("/language", data={"lang": "zh-CN"}, follow_redirects=False)
    assert response.status_code == 403
    assert "qm_lang" not in response.headers.get("set-cookie", "")


# --- pages in Chinese --------------------------------------------------------------------


def test_login_page_and_its_errors_in_chinese(client: Client, seed: Callable[..., None]) -> None:
    seed(lambda s: make_user(s, "rita", Role.REVIEWER))
    page = client.get("/login", headers=ZH).text
    assert "<title>登录 · QM</title>" in page
    assert "密码" in page and "Password" not in page
    wrong = client.post(
        "/login",
        data={"username": "rita", "password": "nope-nope", "_csrf_token": csrf_token(client)},
        headers=ZH,
    )
    assert wrong.status_code == 401
    assert "用户名或密码错误。" in wrong.text
    english = client.post(
        "/login",
        data={"username": "rita", "password": "nope-nope", "_csrf_token": csrf_token(client)},
        headers=EN,
    )
    assert "Wrong username or password." in english.text


@pytest.mark.parametrize(
    ("path", "chinese"),
    [
        ("/calls", ["通话", "坐席", "处理时长", "合规率", "筛选", "王小明", "账单", "退款"]),
        ("/calls/c-zh-1", ["联络信息", "处理时长", "关键点", "处理流程", "王小明", "04:05"]),
        ("/review", ["复核队列", "工作量", "没有符合筛选条件的抽样。"]),
        ("/calibrations", ["校准会议", "您没有参加任何校准会议。"]),
        ("/agreement", ["机器与人工对比", "月份"]),
    ],
)
def test_main_pages_render_in_chinese(zh_reviewer: Client, path: str, chinese: list[str]) -> None:
    response = zh_reviewer.get(path, headers=ZH)
    assert response.status_code == 200, response.text
    assert lang_of(response.text) == "zh-CN"
    text = soup(response.text).get_text(" ")
    for word in chinese:
        assert word in text, f"{word!r} missing on {path}"
    for word in ENGLISH:
        assert word not in text, f"{word!r} left in English on {path}"
    assert "退出登录" in text and "质检员" in text  # the sign-out button and the role


def test_call_list_count_and_paging_in_both_languages(zh_reviewer: Client) -> None:
    zh = soup(zh_reviewer.get("/calls").text).select_one("#count")
    assert zh is not None
    assert " ".join(zh.text.split()).startswith("2 通通话 · 第 1 页，共 1 页")
    en = soup(zh_reviewer.get("/calls?lang=en").text).select_one("#count")
    assert en is not None
    assert " ".join(en.text.split()).startswith("2 calls · page 1 of 1")


def test_statuses_are_translated_but_filters_keep_their_values(zh_reviewer: Client) -> None:
    page = soup(zh_reviewer.get("/calls").text)
    options = {str(o["value"]): o.text for o in page.select('select[name="status"] option')}
    assert options["done"] == "完成" and options["pending"] == "待处理"
    badges = {
        str(tr["data-call-id"]): tr.select_one(".badge").text  # type: ignore[union-attr]
        for tr in page.select("#calls tbody tr")
    }
    assert badges == {"c-zh-1": "完成", "c-zh-2": "待处理"}
    filtered = zh_reviewer.get("/calls?status=done")
    assert [str(tr["data-call-id"]) for tr in soup(filtered.text).select("#calls tbody tr")] == [
        "c-zh-1"
    ]


def test_errors_in_chinese_name_the_field(zh_reviewer: Client) -> None:
    missing = zh_reviewer.get("/calls/nope")
    assert missing.status_code == 404
    text = soup(missing.text).get_text(" ")
    assert "未找到" in text and "没有 ID 为 'nope' 的通话" in text
    nowhere = zh_reviewer.get("/no-such-page", headers=ZH)  # no route: no user, the browser
    assert nowhere.status_code == 404
    assert soup(nowhere.text).select_one("h1").get_text(" ").split() == ["404", "未找到"]  # type: ignore[union-attr]
    bad = zh_reviewer.get("/calls?page=0")
    assert bad.status_code in (400, 422)
    assert "字段 page" in bad.text and "页码从 1 开始" in bad.text
    english = zh_reviewer.get("/calls?page=0&lang=en")
    assert "field page" in english.text and "pages are numbered from 1" in english.text


def test_api_problems_follow_accept_language(client: Client, seed: Callable[..., None]) -> None:
    seed(lambda s: make_user(s, "rita", Role.REVIEWER))
    login(client, "rita")
    zh: Any = client.get("/api/calls?page=0", headers=ZH).json()
    assert zh["field"] == "page" and "页码从 1 开始" in zh["detail"]
    en: Any = client.get("/api/calls?page=0", headers=EN).json()
    assert en["detail"].endswith("pages are numbered from 1")
