import pytest

from governance.sql import IdentifierError, fqn, ident, literal

HOSTILE = [
    'FOO"; DROP TABLE X; --',
    "MY TABLE",
    "select",
    "SELECT",
    "foo",
    "1ABC",
    "",
    "A" * 256,
    "MARKETING_DB.RAW",
    "TAB\tLE",
    "ÉCOLE",
    None,
    42,
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_identifiers_are_rejected(name):
    with pytest.raises(IdentifierError):
        ident(name)


def test_plain_identifiers_are_quoted():
    assert ident("CLICKS") == '"CLICKS"'
    assert fqn("MARKETING_DB", "RAW", "AD_CLICKS") == '"MARKETING_DB"."RAW"."AD_CLICKS"'


def test_literal_escapes_quotes_and_backslashes():
    assert literal("it's") == "'it''s'"
    assert literal("a\\b") == "'a\\\\b'"
