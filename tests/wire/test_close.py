"""Close codes and the close frame's payload (mockws/wire/close.py)."""

from __future__ import annotations

import struct
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockws.wire.close import MAX_CLOSE_REASON_BYTES, CloseCode, close_payload, encode_close_reason

# RFC 6455 section 7.4.1 and 7.4.2, read independently of the code under test.
RFC_SENDABLE = {*range(1000, 1004), *range(1007, 1015), *range(3000, 5000)}


def test_sendable_follows_rfc_6455_over_the_whole_range() -> None:
    """Exactly 1000-1003, 1007-1014 and 3000-4999 are sendable among 0..5000."""
    refused = [code for code in RFC_SENDABLE if not CloseCode.sendable(code)]
    others = (code for code in range(5001) if code not in RFC_SENDABLE)
    allowed = [code for code in others if CloseCode.sendable(code)]
    assert (refused, allowed) == ([], [])


@pytest.mark.parametrize("code", [-1, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_reserved_and_out_of_range_codes_are_not_sendable(code: int) -> None:
    """Codes RFC 6455 reserves or never sends, and codes past 4999, are refused."""
    assert not CloseCode.sendable(code)


@pytest.mark.parametrize("value", [True, False, 1000.0, "1000", None, Decimal(1000), b"\x03\xe8"])
def test_only_ints_are_sendable(value: object) -> None:
    """Booleans, floats, strings and other non-int values are never sendable."""
    assert not CloseCode.sendable(value)


def test_enum_members_are_sendable_ints() -> None:
    """A CloseCode member is an int and is judged by its value."""
    assert CloseCode.sendable(CloseCode.NORMAL)
    assert CloseCode.sendable(CloseCode.FORBIDDEN)
    assert not CloseCode.sendable(CloseCode.NO_STATUS)


def test_only_the_never_sent_members_are_unsendable() -> None:
    """Of the enum, only 1005, 1006 and 1015 (reported, never sent) are unsendable."""
    unsendable = {code for code in CloseCode if not CloseCode.sendable(code)}
    assert unsendable == {CloseCode.NO_STATUS, CloseCode.ABNORMAL, CloseCode.TLS_HANDSHAKE}


def test_code_values_match_rfc_6455_and_mockws() -> None:
    """The enum values are the registered numbers and mockws's 4001-4003."""
    assert [int(code) for code in CloseCode] == [
        *range(1000, 1004),
        *range(1005, 1016),
        4001,
        4002,
        4003,
    ]
    assert CloseCode.GOING_AWAY == 1001 and CloseCode.MESSAGE_TOO_BIG == 1009
    assert CloseCode.SERVICE_RESTART == 1012 and CloseCode.INVALID_TOKEN == 4002


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("", b""),
        ("bye", b"bye"),
        ("a" * 123, b"a" * 123),
        ("a" * 124, b"a" * 123),
        ("é" * 62, "é".encode() * 61),
        ("€" * 41, "€".encode() * 41),
        ("a" + "€" * 41, b"a" + "€".encode() * 40),
        ("😀" * 31, "😀".encode() * 30),
        ("ab" + "😀" * 31, b"ab" + "😀".encode() * 30),
    ],
)
def test_encode_close_reason_cuts_at_123_bytes_on_a_character(reason: str, expected: bytes) -> None:
    """Reasons over 123 UTF-8 bytes lose whole characters from the end, never half of one."""
    assert encode_close_reason(reason) == expected


@given(st.text())
def test_encoded_reason_is_the_longest_prefix_that_fits(reason: str) -> None:
    """The result decodes, fits 123 bytes, and is the longest prefix of the reason that does."""
    encoded = encode_close_reason(reason)
    text = encoded.decode("utf-8")
    assert len(encoded) <= MAX_CLOSE_REASON_BYTES
    assert reason.startswith(text)
    if text != reason:
        assert len((text + reason[len(text)]).encode()) > MAX_CLOSE_REASON_BYTES


def test_a_reason_with_a_lone_surrogate_still_encodes() -> None:
    """A reason holding a lone surrogate encodes to valid UTF-8 within 123 bytes."""
    encoded = encode_close_reason("bad \ud800 reason")
    assert len(encoded) <= MAX_CLOSE_REASON_BYTES
    encoded.decode("utf-8")


def test_close_payload_is_the_code_then_the_reason() -> None:
    """The payload is the code in network byte order followed by the UTF-8 reason."""
    assert close_payload(CloseCode.GOING_AWAY, "Server shutting down") == (
        b"\x03\xe9Server shutting down"
    )
    assert close_payload(4001) == b"\x0f\xa1"


def test_close_payload_fits_a_control_frame() -> None:
    """A long reason is cut so the whole payload is at most 125 bytes (RFC 6455 5.5)."""
    payload = close_payload(1008, "é" * 100)
    assert len(payload) <= 125
    assert struct.unpack("!H", payload[:2]) == (1008,)
    assert payload[2:].decode("utf-8") == "é" * 61
