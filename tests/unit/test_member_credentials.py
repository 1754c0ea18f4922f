"""Banking id canonicalization (A11) and the password policy (A1-A4), at the edges."""

from __future__ import annotations

import unicodedata

import pytest

from domain.member.banking_id import canonical_banking_id
from domain.member.errors import WeakPassword
from domain.member.passwords import check_new_password, normalize_password
from domain.shared.errors import InvalidArgument
from tests.fakes import FakeCommonPasswords

COMMON = FakeCommonPasswords({"password1234", "iloveyou12345"})


@pytest.mark.parametrize("spelling", ["Alice", "alice", " alice ", "ALICE", "ａｌｉｃｅ", "\tAlIcE\n"])
def test_every_spelling_is_one_banking_id(spelling: str) -> None:
    assert canonical_banking_id(spelling) == "alice"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "abc",
        "a" * 33,
        "a" * 100_000,
        "al ice",
        "al\x00ice",
        "alice\u200b",
        "-alice",
        "alice@bank",
        "ålice",
        "'; DROP--",
    ],
)
def test_malformed_banking_ids_are_refused(raw: str) -> None:
    with pytest.raises(InvalidArgument):
        canonical_banking_id(raw)


@pytest.mark.parametrize("length", [12, 13, 64, 128])
def test_lengths_12_to_128_are_accepted(length: int) -> None:
    assert len(check_new_password("x" * length, "alice", COMMON)) == length


@pytest.mark.parametrize(
    ("length", "problem"), [(0, "at least 12"), (11, "at least 12"), (129, "at most 128"), (10_000, "at most 128")]
)
def test_lengths_outside_are_refused_with_the_reason(length: int, problem: str) -> None:
    with pytest.raises(WeakPassword) as refused:
        check_new_password("x" * length, "alice", COMMON)
    assert problem in refused.value.message


def test_length_counts_code_points_not_bytes() -> None:
    emoji = "🔐" * 12  # 48 bytes of UTF-8, 12 code points
    assert check_new_password(emoji, "alice", COMMON) == emoji
    hangul = "가나다라마바사아자차카타" * 10 + "파하"  # 122 code points, 366 bytes
    assert check_new_password(hangul, "alice", COMMON) == hangul


def test_72_and_73_byte_passwords_are_distinct_and_never_truncated() -> None:
    p72 = "é" * 36  # 72 bytes
    p73 = p72 + "x"  # 73 bytes: bcrypt would silently drop the last byte; we do not
    assert len(p72.encode()) == 72 and len(p73.encode()) == 73
    assert check_new_password(p73, "alice", COMMON) != check_new_password(p72, "alice", COMMON)


def test_nfc_and_nfd_spellings_are_the_same_password() -> None:
    nfc = unicodedata.normalize("NFC", "비밀번호는 한글로 적어요")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    assert normalize_password(nfc) == normalize_password(nfd)


def test_spaces_are_kept_exactly() -> None:
    assert normalize_password("  padded password  ") == "  padded password  "
    assert normalize_password("padded password") != normalize_password("padded password ")


@pytest.mark.parametrize("password", ["a" * 20, "🐱🐶🐭🐹🐰🦊🐻🐼🐨🐯🦁🐮", "correct horse battery staple"])
def test_no_composition_rules(password: str) -> None:
    assert check_new_password(password, "alice", COMMON) == password


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Password1234", "too common"),
        ("ILOVEYOU12345", "too common"),
        ("alice-the-customer", "banking id"),
        ("ecila" + "xxxxxxxxx", None),  # the reversed id only as the whole password is refused
    ],
)
def test_common_passwords_and_the_banking_id_are_refused(password: str, reason: str | None) -> None:
    if reason is None:
        assert check_new_password(password, "alice", COMMON)
        return
    with pytest.raises(WeakPassword) as refused:
        check_new_password(password, "alice", COMMON)
    assert reason in refused.value.message


def test_the_reversed_banking_id_is_refused() -> None:
    with pytest.raises(WeakPassword):
        check_new_password("321ecila.gnol.yrev", "very.long.alice123", COMMON)


@pytest.mark.parametrize("raw", ["", "short", "x" * 129, "x" * 513])
def test_login_normalization_refuses_impossible_passwords(raw: str) -> None:
    assert normalize_password(raw) is None
