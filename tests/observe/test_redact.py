"""Masking secrets in query strings and JSON text (mockws/observe/redact.py)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from mockws.observe.redact import MASK, SECRET_QUERY_PARAMS, mask_json_secrets, mask_query


def query_pairs(path_qs: str) -> list[tuple[str, str]]:
    """The decoded (name, value) pairs of a path's query string, in order."""
    return parse_qsl(urlsplit(path_qs).query, keep_blank_values=True)


def test_mask_is_three_stars() -> None:
    """Masked values read as ***."""
    assert MASK == "***"


@pytest.mark.parametrize("name", sorted(SECRET_QUERY_PARAMS))
def test_every_secret_parameter_is_masked(name: str) -> None:
    """Each default secret name has its value replaced; other parameters are kept."""
    masked = mask_query(f"/ws/chat?room=lobby&{name}=s3cret-value")
    assert masked == f"/ws/chat?room=lobby&{name}=***"
    assert "s3cret-value" not in masked


def test_default_secret_names() -> None:
    """The default list covers tokens, keys, passwords and the admin token."""
    assert SECRET_QUERY_PARAMS == {
        "token",
        "access_token",
        "id_token",
        "jwt",
        "auth",
        "key",
        "api_key",
        "apikey",
        "password",
        "secret",
        "admin_token",
    }


def test_names_match_whatever_their_case_and_keep_it() -> None:
    """TOKEN and Api_Key are masked, and written back with the case the client used."""
    assert mask_query("/ws?TOKEN=a&Api_Key=b&Room=c") == "/ws?TOKEN=***&Api_Key=***&Room=c"


def test_a_percent_encoded_name_is_still_masked() -> None:
    """A name spelled with escapes (%74oken) is decoded before it is compared."""
    masked = mask_query("/ws?%74oken=abc")
    assert masked == "/ws?token=***"


def test_repeated_and_blank_secrets_are_all_masked() -> None:
    """Every occurrence is masked, including empty values and a name with no '='."""
    assert mask_query("/ws?token=a&token=b") == "/ws?token=***&token=***"
    assert mask_query("/ws?token=") == "/ws?token=***"
    assert mask_query("/ws?token") == "/ws?token=***"


def test_other_parameters_keep_their_values_and_order() -> None:
    """Non-secret parameters decode to what the client sent, in the same order."""
    original = "/a/b?x=%2F&name=a%20b&token=t&q=a+b&star=*"
    masked = mask_query(original)
    assert masked.startswith("/a/b?")
    assert query_pairs(masked) == [
        ("x", "/"),
        ("name", "a b"),
        ("token", "***"),
        ("q", "a b"),
        ("star", "*"),
    ]


@pytest.mark.parametrize("path", ["/ws/chat", "/", "", "/ws#frag", "/ws/a%20b"])
def test_a_path_without_a_query_is_returned_as_it_is(path: str) -> None:
    """Without '?', the text comes back unchanged."""
    assert mask_query(path) == path


def test_an_empty_query_stays_empty() -> None:
    """A bare '?' gives the path and '?' back."""
    assert mask_query("/ws?") == "/ws?"


def test_extra_names_join_the_defaults() -> None:
    """Passing the defaults plus an endpoint's parameter masks both."""
    names = SECRET_QUERY_PARAMS | {"ticket"}
    assert mask_query("/ws?ticket=t&token=u&room=r", names) == "/ws?ticket=***&token=***&room=r"


def test_extra_names_are_case_insensitive_too() -> None:
    """A name given in any case matches the parameter in any case."""
    assert mask_query("/ws?Ticket=1&TICKET=2", ("tIcKeT",)) == "/ws?Ticket=***&TICKET=***"


def test_the_names_given_replace_the_defaults() -> None:
    """secret_names is the whole list: names left out of it are not masked."""
    assert mask_query("/ws?ticket=1&token=2", ("ticket",)) == "/ws?ticket=***&token=2"


def test_json_secret_values_are_masked() -> None:
    """A string under a secret-named key is replaced; other keys keep their values."""
    assert mask_json_secrets('{"token":"abc","n":1}') == '{"token":"***","n":1}'


@pytest.mark.parametrize("name", sorted(SECRET_QUERY_PARAMS))
def test_every_secret_key_is_masked_in_json(name: str) -> None:
    """Each secret name is a secret JSON key too."""
    assert mask_json_secrets(f'{{"{name}": "hide-me"}}') == f'{{"{name}": "***"}}'


def test_json_keys_match_in_any_case_with_spaces_around_the_colon() -> None:
    """Key case and the whitespace around ':' do not matter."""
    assert mask_json_secrets('{"Password" : "x y", "API_KEY":\n"k"}') == (
        '{"Password" : "***", "API_KEY":\n"***"}'
    )


def test_json_secrets_are_masked_at_any_depth_and_every_time() -> None:
    """Secrets inside nested objects and lists are all masked."""
    text = '{"a":{"secret":"s1"},"list":[{"jwt":"j1"},{"jwt":"j2"}],"secret":"s2"}'
    assert mask_json_secrets(text) == (
        '{"a":{"secret":"***"},"list":[{"jwt":"***"},{"jwt":"***"}],"secret":"***"}'
    )


def test_escaped_quotes_inside_a_secret_are_masked_with_it() -> None:
    """An escaped quote does not end the value early."""
    assert mask_json_secrets(r'{"token":"ab\"cd","n":1}') == '{"token":"***","n":1}'


def test_an_empty_secret_is_masked() -> None:
    """An empty string value is masked like any other."""
    assert mask_json_secrets('{"token":""}') == '{"token":"***"}'


def test_a_value_cut_short_is_masked() -> None:
    """The start of a message whose secret has no closing quote is masked all the same."""
    assert mask_json_secrets('{"n":1,"token":"abcdef') == '{"n":1,"token":"***"'


def test_a_value_cut_after_a_backslash_leaks_nothing() -> None:
    """A value cut right after an escape's backslash still loses its characters."""
    masked = mask_json_secrets('{"token":"sec\\')
    assert "sec" not in masked
    assert masked.startswith('{"token":"***"')


def test_keys_that_contain_a_secret_word_are_masked_whatever_the_value() -> None:
    """accessToken, refresh_token, an escaped key, a list or number value, Authorization:
    all masked (issue 11 finding 8: exact names with string values let them through)."""
    text = (
        '{"tok\\u0065n":"a","token":["t"],"accessToken":"b","refresh_token":7,'
        '"Authorization":"Bearer c","client-secret":{"k":"d"},"room":"lobby","monkey":"e"}'
    )
    assert mask_json_secrets(text) == (
        '{"tok\\u0065n":"***","token":"***","accessToken":"***","refresh_token":"***",'
        '"Authorization":"***","client-secret":"***","room":"lobby","monkey":"e"}'
    )


def test_a_string_that_is_not_a_key_is_left_alone() -> None:
    """A secret word as a value or an array item is not a key."""
    text = '["token", {"name": "token"}]'
    assert mask_json_secrets(text) == text


def test_semicolon_separated_parameters_are_masked_too() -> None:
    """?a=1;token=... hides the token, as does a folded name such as accessToken."""
    assert mask_query("/p?a=1;token=abc&b=2") == "/p?a=1;token=***&b=2"
    assert mask_query("/p?a;token=abc") == "/p?a;token=***"
    assert mask_query("/p?accessToken=abc&room=x") == "/p?accessToken=***&room=x"


def test_text_without_quotes_is_returned_as_it_is() -> None:
    """Text with no '"' at all is not JSON with keys, and comes back unchanged."""
    assert mask_json_secrets("token: abc") == "token: abc"
