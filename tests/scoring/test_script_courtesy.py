"""Script validation (errors name the field) and courtesy sub-measures."""

import json
from pathlib import Path

import pytest

from scoring.courtesy import measure_courtesy
from scoring.script import ScriptError, load_script, parse_script
from scoring.transcript import CallTranscript, Utterance

VALID = {
    "id": "s",
    "name": "S",
    "language": "en",
    "key_points": [
        {"id": "a", "phrases": ["hello"]},
        {"id": "b", "phrases": ["bye"], "after": ["a"]},
    ],
    "forbidden": [{"id": "f", "phrases": ["calm down"]}],
}


def broken(path: str, value: object) -> dict:
    data = json.loads(json.dumps(VALID))
    target = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is ...:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (broken("language", "fr"), "language"),
        (broken("key_points", []), "key_points"),
        (broken("key_points.0.phrases", []), "key_points[0].phrases"),
        (broken("key_points.0.phrases", ["ok", ""]), "key_points[0].phrases[1]"),
        (broken("key_points.1.within_seconds", -3), "key_points[1].within_seconds"),
        (broken("key_points.1.speaker", "robot"), "key_points[1].speaker"),
        (broken("key_points.1.after", ["zzz"]), "key_points[1].after[0]"),
        (broken("key_points.1.id", "a"), "key_points[1].id"),
        (broken("key_points.0.critical", "yes"), "key_points[0].critical"),
        (broken("forbidden.0.phrases", "calm down"), "forbidden[0].phrases"),
        (broken("key_points.0.id", ...), "key_points[0].id"),
        (broken("key_points.1.within_second", 30), "key_points[1].within_second"),
        (broken("key_points.0.label", 7), "key_points[0].label"),
        (broken("forbidden.0.speaker", "agent"), "forbidden[0].speaker"),
        (broken("courtesy", {"rude": ["x"]}), "courtesy.rude"),
        (broken("name", ["S"]), "name"),
    ],
)
def test_invalid_scripts_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(ScriptError) as info:
        parse_script(data, source="s.yaml")
    assert str(info.value).startswith(f"s.yaml: {field}:")


def test_a_misspelt_field_gets_a_suggestion() -> None:
    with pytest.raises(ScriptError, match="unknown field; did you mean 'within_seconds'"):
        parse_script(broken("key_points.1.within_second", 30))


def test_after_cycle_is_rejected() -> None:
    data = broken("key_points.0.after", ["b"])
    with pytest.raises(ScriptError, match="cycle"):
        parse_script(data)


def test_defaults_and_round_trip(tmp_path: Path) -> None:
    script = parse_script(VALID)
    kp = script.key_points[0]
    assert (kp.speaker, kp.required, kp.critical, kp.weight, kp.within_seconds) == (
        "agent",
        True,
        False,
        1.0,
        None,
    )
    path = tmp_path / "s.yaml"
    import yaml

    path.write_text(yaml.safe_dump(script.to_dict(), allow_unicode=True))
    assert load_script(path) == script
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ScriptError, match="not valid JSON"):
        load_script(tmp_path / "bad.json")


def call(*lines: tuple[str, float, float, str], language: str = "en") -> CallTranscript:
    return CallTranscript("c", language, None, tuple(Utterance(*line) for line in lines))


def test_courtesy_sub_measures_by_hand() -> None:
    transcript = call(
        ("agent", 0.0, 3.0, "Thank you for calling, Mrs Brown. How can I help?"),
        ("customer", 3.5, 9.0, "My card was stolen and I need a new one"),
        ("agent", 5.0, 6.0, "Calm down please"),  # starts inside the customer's turn
        ("agent", 25.0, 27.0, "I'm sorry to hear that, I understand"),  # 16 s of silence before
        ("customer", 27.5, 28.0, "ok"),
        ("agent", 28.1, 29.0, "please hold"),  # starts just after: not an interruption
    )
    c = measure_courtesy(transcript, language="en", customer_name="Patricia Brown")
    assert c.polite_count == 3  # thank you, please, please
    assert c.empathy_count == 2  # "(i am) sorry to hear" once, not twice; "i understand"
    assert (c.forbidden_count, c.forbidden_phrases) == (1, ("calm down",))
    assert c.customer_name_used is True
    assert c.interruptions == 1
    assert (c.long_silences, c.longest_silence) == (1, 16.0)
    assert c.agent_utterances == 4
    assert measure_courtesy(transcript, language="en").customer_name_used is None


def test_chinese_courtesy_and_script_additions() -> None:
    transcript = call(
        ("agent", 0.0, 2.0, "您好，请问有什么可以帮您？"),  # polite: 您 x2, 请
        ("agent", 3.0, 4.0, "请稍等，麻烦您提供一下号码"),  # polite: 请稍等, 麻烦您 (not 请, 您)
        ("customer", 4.5, 5.0, "你们怎么回事，不知道吗"),  # the customer's words never count
        ("agent", 5.0, 6.0, "非常理解，给您带来不便非常抱歉"),  # empathy x3; polite: 您
        ("agent", 7.0, 8.0, "王先生别着急，这个不归我管，你自己看吧"),  # 别着急 from the script
        language="zh",
    )
    c = measure_courtesy(
        transcript, language="zh", customer_name="王小明", extra={"empathy": ["别着急"]}
    )
    assert (c.polite_count, c.empathy_count, c.forbidden_count) == (6, 4, 2)
    assert set(c.forbidden_phrases) == {"不归我管", "你自己看"}
    assert c.customer_name_used is True  # by surname, as in 王先生
    assert c.agent_utterances == 4
    assert c.interruptions == 0  # the agent waits until 5.0, when the customer stops
