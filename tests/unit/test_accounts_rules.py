"""The accounts domain's pure rules: TOTP steps and replays, key shapes, device networks and
secrets at rest."""

import base64
import hashlib
import hmac
import struct

import pytest

from parley.accounts.devices import client_network, device_signature
from parley.accounts.totp import (
    current_step,
    hash_recovery_code,
    matching_step,
    new_recovery_codes,
    new_secret,
)
from parley.apikeys.keys import is_api_key, matches, new_key, prefix_of
from parley.core.encryption import SecretBox, UnreadableSecret


def _code(secret: str, step: int) -> str:
    """RFC 4226 HOTP with SHA-1, 6 digits: written here, not taken from the server's library."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**6:06d}"


def test_rfc_6238_test_vector_matches_the_independent_implementation() -> None:
    # RFC 6238 appendix B, SHA-1 seed "12345678901234567890", T = 59 s: 94287082 (8 digits).
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert _code(secret, 59 // 30) == "287082"


def test_codes_of_the_adjacent_steps_match_and_farther_ones_do_not() -> None:
    secret = new_secret()
    now = current_step()
    for offset in (-1, 0, 1):
        assert matching_step(secret, _code(secret, now + offset), last_step=None) == now + offset
    for offset in (-3, 3):
        assert matching_step(secret, _code(secret, now + offset), last_step=None) is None


def test_a_step_at_or_before_the_last_used_one_is_a_replay() -> None:
    secret = new_secret()
    now = current_step()
    assert matching_step(secret, _code(secret, now), last_step=now) is None
    assert matching_step(secret, _code(secret, now - 1), last_step=now) is None
    assert matching_step(secret, _code(secret, now + 1), last_step=now) == now + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12345a", "١٢٣٤٥٦"])
def test_malformed_codes_never_match(code: str) -> None:
    assert matching_step(new_secret(), code, last_step=None) is None


def test_recovery_codes_are_distinct_and_hash_alike_whatever_their_case_or_dash() -> None:
    codes = new_recovery_codes()
    assert len(set(codes)) == 10
    code = codes[0]
    assert hash_recovery_code(code) == hash_recovery_code(code.upper().replace("-", ""))
    assert hash_recovery_code(code) != hash_recovery_code(codes[1])


def test_keys_have_their_shape_and_are_recognised_by_their_mark() -> None:
    made = new_key()
    assert is_api_key(made.key) and prefix_of(made.key) == made.prefix
    assert matches(made.key, made.key_hash)
    assert not matches(made.key + "x", made.key_hash)
    assert not matches(made.key, None)
    for malformed in ("pk_", "pk_ABCDEFGH_secret", "pk_abcdefgh-secret", "pk_abc_secret"):
        assert prefix_of(malformed) is None
    assert not is_api_key("eyJhbGciOiJIUzI1NiJ9.e30.x")


def test_networks_group_ipv4_by_24_and_ipv6_by_48() -> None:
    assert client_network("203.0.113.7") == client_network("203.0.113.250") == "203.0.113.0/24"
    assert client_network("203.0.114.7") != client_network("203.0.113.7")
    assert client_network("2001:db8:1:2::1") == client_network("2001:db8:1:ffff::9")
    assert client_network("2001:db8:2::1") != client_network("2001:db8:1::1")
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    assert device_signature(firefox, "203.0.113.7") == ("Firefox", "Linux", "203.0.113.0/24")


def test_sealed_secrets_open_only_with_the_same_key_and_purpose() -> None:
    box = SecretBox("k" * 40, purpose="totp-secret")
    sealed = box.seal("JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert box.open(sealed) == "JBSWY3DPEHPK3PXP"
    for other in (SecretBox("j" * 40, purpose="totp-secret"), SecretBox("k" * 40, purpose="x")):
        with pytest.raises(UnreadableSecret):
            other.open(sealed)
