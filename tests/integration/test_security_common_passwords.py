"""CommonPasswordList with the shipped Django list: size, case-insensitive membership, use by the policy."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

import adapters.outbound.security.common_passwords as module
from adapters.outbound.security.common_passwords import CommonPasswordList
from domain.member.errors import WeakPassword
from domain.member.passwords import check_new_password

DATA = Path(module.__file__).parent / "data"


def long_entries() -> list[str]:
    with gzip.open(DATA / "common-passwords.txt.gz", "rt", encoding="utf-8") as lines:
        return [line.strip() for line in lines if len(line.strip()) >= 12]


def test_list_is_large_and_loaded_once() -> None:
    common = CommonPasswordList()
    assert len(common) >= 10_000
    assert common._load() is common._load()


def test_real_long_entries_are_contained_case_insensitively() -> None:
    common = CommonPasswordList()
    entries = long_entries()
    assert len(entries) >= 100
    for entry in [*entries[:50], *entries[-50:]]:
        assert entry in common
        assert entry.upper() in common
        assert entry.swapcase() in common
    assert "qwerty123456" in common and "QwErTy123456" in common


def test_uncommon_and_non_string_candidates_are_not_contained() -> None:
    common = CommonPasswordList()
    assert "vivid-otter-juggles-42-lanterns" not in common
    assert "" not in common
    assert 123456 not in common


def test_the_password_policy_refuses_common_passwords() -> None:
    with pytest.raises(WeakPassword):
        check_new_password("Qwerty123456", "alice", CommonPasswordList())
    assert check_new_password("vivid-otter-juggles-42", "alice", CommonPasswordList()) == "vivid-otter-juggles-42"


def test_license_notice_ships_next_to_the_list() -> None:
    notice = (DATA / "COMMON-PASSWORDS-LICENSE.txt").read_text()
    assert "common-passwords.txt.gz" in notice
    assert "Django Software Foundation" in notice
