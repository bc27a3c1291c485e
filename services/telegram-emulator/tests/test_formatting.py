"""Parse modes turn markup into Telegram's plain text + entities, or Telegram's error."""

from __future__ import annotations

import pytest

from phonicflow_emulator.formatting import EntityParseError, command_entities, parse_text


def test_html_nests_links_and_code_with_utf16_offsets() -> None:
    text, entities = parse_text(
        '🎯 <b>Score <i>92</i></b> — <a href="https://x.org/?a=1&amp;b=2">tips</a> '
        '<pre><code class="language-python">x &lt; 1</code></pre>',
        "HTML",
    )
    assert text == "🎯 Score 92 — tips x < 1"
    assert {"type": "bold", "offset": 3, "length": 8} in entities  # the emoji is 2 UTF-16 units
    assert {"type": "italic", "offset": 9, "length": 2} in entities
    assert {
        "type": "text_link",
        "offset": 14,
        "length": 4,
        "url": "https://x.org/?a=1&b=2",
    } in entities
    assert {"type": "pre", "offset": 19, "length": 5, "language": "python"} in entities


def test_html_spoilers_blockquotes_and_case_insensitive_mode() -> None:
    text, entities = parse_text(
        '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler><blockquote expandable>q</blockquote>',
        "html",
    )
    assert text == "stq"
    assert [e["type"] for e in entities] == ["spoiler", "spoiler", "expandable_blockquote"]


@pytest.mark.parametrize(
    ("markup", "detail"),
    [
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("text</b>", "Unexpected end tag at byte offset 4"),
        ("é <foo>x</foo>", 'Unsupported start tag "foo" at byte offset 3'),
        ("a <b", "Unclosed start tag at byte offset 2"),
        ("mail <kahn@inbox.ru> now", 'Unsupported start tag "kahn@inbox.ru" at byte offset 5'),
        ("Price < $100 >", 'Unsupported start tag "" at byte offset 6'),
        ('<span class="x">a</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
def test_malformed_html_is_refused_like_telegram(markup: str, detail: str) -> None:
    with pytest.raises(EntityParseError) as raised:
        parse_text(markup, "HTML")
    assert str(raised.value) == detail


def test_markdown_v2_entities_escapes_and_links() -> None:
    text, entities = parse_text(
        r"*bold _it_* __under__ ~gone~ ||secret|| `a\`b` [docs](https://x.org/a\)b) 1\.5\!",
        "MarkdownV2",
    )
    assert text == "bold it under gone secret a`b docs 1.5!"
    kinds = {e["type"]: e for e in entities}
    assert kinds["bold"] == {"type": "bold", "offset": 0, "length": 7}
    assert kinds["italic"] == {"type": "italic", "offset": 5, "length": 2}
    assert kinds["underline"]["length"] == 5 and kinds["strikethrough"]["length"] == 4
    assert kinds["spoiler"]["length"] == 6 and kinds["code"]["length"] == 3
    assert kinds["text_link"]["url"] == "https://x.org/a)b"


def test_markdown_v2_pre_with_language_and_blockquote() -> None:
    text, entities = parse_text("```python\nprint(1)\n```\n>quoted *line*", "MarkdownV2")
    assert text == "print(1)\n\nquoted line"
    assert {"type": "pre", "offset": 0, "length": 9, "language": "python"} in entities
    assert {"type": "blockquote", "offset": 10, "length": 11} in entities


@pytest.mark.parametrize(
    ("markup", "detail"),
    [
        ("Great job!", "Character '!' is reserved and must be escaped with the preceding '\\'"),
        ("1-2", "Character '-' is reserved and must be escaped with the preceding '\\'"),
        ("_open", "Can't find end of Italic entity at byte offset 0"),
        ("ok `code", "Can't find end of Code entity at byte offset 3"),
        ("[link](http://x", "Can't find end of a URL at byte offset 6"),
    ],
)
def test_malformed_markdown_v2_is_refused_like_telegram(markup: str, detail: str) -> None:
    with pytest.raises(EntityParseError) as raised:
        parse_text(markup, "MarkdownV2")
    assert str(raised.value) == detail


def test_legacy_markdown() -> None:
    text, entities = parse_text("*bold* _it_ `c` [l](https://x.org) 1.5!", "Markdown")
    assert text == "bold it c l 1.5!"
    assert [e["type"] for e in entities] == ["bold", "italic", "code", "text_link"]
    bracketed = parse_text("see [note] *b*", "Markdown")
    assert bracketed == ("see [note] b", [{"type": "bold", "offset": 11, "length": 1}])
    with pytest.raises(
        EntityParseError, match="Can't find end of the entity starting at byte offset 0"
    ):
        parse_text("*bold", "Markdown")


def test_plain_text_and_unknown_modes() -> None:
    assert parse_text("<b>as is</b>", None) == ("<b>as is</b>", [])
    with pytest.raises(ValueError, match="unsupported parse_mode"):
        parse_text("x", "BBCode")


def test_user_commands_get_bot_command_entities() -> None:
    assert command_entities("/start") == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert command_entities("try /help@phonicflow_bot now") == [
        {"type": "bot_command", "offset": 4, "length": 20}
    ]
    assert command_entities("and/or 1/2 http://x/y") == []
