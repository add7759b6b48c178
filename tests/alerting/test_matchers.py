"""Matchers round-trip through their text: what the dashboard and the CLI write, the engine reads back exactly.

Label values may hold double quotes, backslashes and newlines; ``str(matcher)`` escapes them the way
Alertmanager's matcher syntax does, and ``Matcher.parse`` reads that syntax as Alertmanager's
``labels.ParseMatcher`` does (a backslash before any other character stays, so regexes keep theirs).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from infertel._internal.cli import main
from infertel.alerting import AlertStore
from infertel.alerting._routing import Matcher, matchers_of
from infertel.alerting.web._routes import form_matchers, silence_matchers

HOSTILE = [
    'say "hi"',
    "C:\\tmp\\",
    'a\\"b',
    "two\nlines",
    "\\n is not a newline",
    '"',
    "\\",
    "",
    "ünï €",
    'model="x",team="y"',
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("op", ["=", "!="])
def test_every_value_round_trips_through_its_text(value: str, op: str) -> None:
    matcher = Matcher("label", op, value)
    assert "\n" not in str(matcher)  # one matcher per line in the silences form
    assert Matcher.parse(str(matcher)) == matcher


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('a="x\\"y"', Matcher("a", "=", 'x"y')),
        ('a="x\\\\y"', Matcher("a", "=", "x\\y")),
        ('a="x\\ny"', Matcher("a", "=", "x\ny")),
        ('a=~"x\\.y"', Matcher("a", "=~", "x\\.y")),  # a spurious escape keeps its backslash (a regex)
        ("a=x\\.y", Matcher("a", "=", "x\\.y")),
        (' a != "b" ', Matcher("a", "!=", "b")),
        ("a=b", Matcher("a", "=", "b")),
        ('a=""', Matcher("a", "=", "")),
        ("a=", Matcher("a", "=", "")),
        ('a="x\\"', None),
        ('a="x"y"', None),
        ('a=x"y', None),
        ('a="x', None),
    ],
)
def test_parse_reads_alertmanagers_syntax(text: str, expected: Matcher | None) -> None:
    if expected is None:
        with pytest.raises(ValueError, match=r"^matcher '.*': (unescaped double quote|the value's closing double)"):
            Matcher.parse(text)
    else:
        assert Matcher.parse(text) == expected


def test_the_pages_silence_prefill_matches_exactly_the_alert() -> None:
    labels = {"alertname": "Hot", "path": 'C:\\models\\"llama"', "note": "a\nb\u2028c\x0cd ", "severity": "page"}
    text = silence_matchers({"labels": labels}).replace("\n", "\r\n")  # a browser posts a textarea with CRLF
    parsed = matchers_of(form_matchers(text))  # as the silences form reads it
    assert [(m.name, m.op, m.value) for m in parsed] == [(k, "=", labels[k]) for k in sorted(labels)]
    assert all(m.matches(labels) for m in parsed)
    assert not all(m.matches({**labels, "path": "C:\\models\\llama"}) for m in parsed)


def test_a_silence_added_by_the_cli_mutes_the_alert_with_those_labels(tmp_path: Path) -> None:
    store = tmp_path / "infertel.db"
    labels = {"alertname": "Hot", "path": 'C:\\models\\"llama"'}
    written = [str(Matcher(k, "=", v)) for k, v in labels.items()]
    assert main(["silence", "add", *written, "--duration", "1h", "--store", str(store)]) == 0
    alerts = AlertStore(str(store))
    try:
        (silence,) = alerts.silences(now=time.time())
        assert [str(m) for m in silence.matchers] == written
        assert silence.mutes(labels, now=time.time())
        assert not silence.mutes({**labels, "path": "C:\\models\\llama"}, now=time.time())
    finally:
        alerts.close()
