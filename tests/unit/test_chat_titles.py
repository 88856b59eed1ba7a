"""Naming an untitled chat session after its first text message."""

import pytest

from parley.chats.service import title_from


@pytest.mark.parametrize(
    ("content", "title"),
    [
        ("Hello", "Hello"),
        ("  Hello \n\n  world  ", "Hello world"),
        ("a" * 60, "a" * 60),
        ("a" * 61, "a" * 60),
        ("word " * 20, "word word word word word word word word word word word word"),
        ("x" * 59 + " yz", "x" * 59),
        ("x" * 60 + " yz", "x" * 60),
        ("ünïcödé " * 10, "ünïcödé ünïcödé ünïcödé ünïcödé ünïcödé ünïcödé ünïcödé"),
    ],
)
def test_the_title_is_the_first_whole_words_up_to_60_characters(content: str, title: str) -> None:
    assert title_from(content) == title
    assert len(title_from(content)) <= 60
