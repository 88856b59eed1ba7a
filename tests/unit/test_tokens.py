"""Access tokens: verification, and the per-process memory of verified tokens."""

from datetime import timedelta
from uuid import uuid4

import pytest

from parley.core import tokens as tokens_module
from parley.core.clock import utcnow
from parley.core.tokens import InvalidToken, TokenCodec


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    codec = TokenCodec("k" * 64, "HS256", 60)
    token = codec.issue(user_id=uuid4(), login_session_id=uuid4(), role="user")
    assert codec.decode(token) is codec.decode(token)  # the second answer comes from memory
    later = utcnow() + timedelta(seconds=120)
    monkeypatch.setattr(tokens_module, "utcnow", lambda: later)
    with pytest.raises(InvalidToken):
        codec.decode(token)


def test_a_token_signed_with_another_key_is_never_remembered() -> None:
    ours, theirs = TokenCodec("k" * 64, "HS256", 60), TokenCodec("z" * 64, "HS256", 60)
    forged = theirs.issue(user_id=uuid4(), login_session_id=uuid4(), role="admin")
    for _ in range(2):
        with pytest.raises(InvalidToken):
            ours.decode(forged)
