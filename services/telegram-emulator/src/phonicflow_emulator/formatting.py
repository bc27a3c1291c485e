"""Telegram's text formatting: parse modes into plain text + entities, as the Bot API does.

Usage::

    from phonicflow_emulator.formatting import parse_text, EntityParseError, command_entities

    text, entities = parse_text("<b>Hi</b> there", "HTML")   # "Hi there", [{"type": "bold", ...}]
    parse_text("<b>oops", "HTML")   # EntityParseError("Can't find end tag corresponding to start tag \"b\"")

The real Bot API answers a malformed message with ``400 Bad Request: can't parse entities:
<detail>``; the details here follow the wording of TDLib (which the Bot API server runs), since
bot authors search for them. Offsets and lengths of entities are counted in UTF-16 code units,
as Telegram counts them, and error positions in UTF-8 bytes, as TDLib reports them.
"""

from __future__ import annotations

import html
import re
from typing import Any, ClassVar

Entity = dict[str, Any]

# MarkdownV2: characters that must be escaped with a backslash anywhere outside code.
_MARKDOWN_V2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_HTML_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
# TDLib reads a tag name up to whitespace or ">", so "<kahn@inbox.ru>" names the tag "kahn@inbox.ru".
_HTML_TAG_NAME = re.compile(r"[^\s>]*")
_HTML_ATTRIBUTE = re.compile(r"\s*([a-zA-Z-]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+))?")
_COMMAND = re.compile(r"(?<![\w/])/[a-zA-Z0-9_]{1,32}(?:@[a-zA-Z0-9_]{3,32})?(?![\w/])")


class EntityParseError(ValueError):
    """The text does not parse in the requested parse mode; ``str()`` is Telegram's detail."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: how Telegram measures entity offsets and lengths."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def command_entities(text: str) -> list[Entity]:
    """``bot_command`` entities for every ``/command`` (or ``/command@bot``) in a user's text."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group()),
        }
        for match in _COMMAND.finditer(text)
    ]


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[Entity]]:
    """Plain text and its entities; raises :class:`EntityParseError` on malformed markup.

    ``parse_mode`` is matched case-insensitively, as Telegram does; ``None`` or ``""`` means
    plain text. An unknown mode raises ``ValueError("unsupported parse_mode")``.
    """
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _MarkdownV2(text).parse()
    if mode == "markdown":
        return _parse_markdown_legacy(text)
    raise ValueError(f"unsupported parse_mode {parse_mode!r}")


class _Builder:
    """Accumulates plain text and tracks UTF-16 offsets for entities."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.entities: list[Entity] = []

    def add(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.length += utf16_len(chunk)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        if self.length > start:
            self.entities.append(
                {"type": kind, "offset": start, "length": self.length - start, **extra}
            )

    def result(self) -> tuple[str, list[Entity]]:
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), self.entities


def _parse_html(source: str) -> tuple[str, list[Entity]]:
    out = _Builder()
    # Open tags: (tag name, entity type or None, start offset, extra fields)
    stack: list[tuple[str, str | None, int, dict[str, Any]]] = []
    i = 0
    n = len(source)
    while i < n:
        char = source[i]
        if char == "&":
            end = source.find(";", i + 1, i + 12)
            if end != -1:
                decoded = html.unescape(source[i : end + 1])
                if decoded != source[i : end + 1]:
                    out.add(decoded)
                    i = end + 1
                    continue
            out.add(char)
            i += 1
            continue
        if char != "<":
            out.add(char)
            i += 1
            continue
        begin = i
        close = source.find(">", i)
        if close == -1:
            raise EntityParseError(
                f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
            )
        if source.startswith("</", i):
            name = source[i + 2 : close].strip().lower()
            if not stack:
                raise EntityParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(source, begin)}"
                )
            open_name, open_kind, start, open_extra = stack.pop()
            if name and name != open_name:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, begin)}, "
                    f'expected "</{open_name}>", found "</{name}>"'
                )
            if open_kind is not None:
                out.entity(open_kind, start, **open_extra)
            i = close + 1
            continue
        match = _HTML_TAG_NAME.match(source, i + 1)
        name = match.group().lower() if match else ""
        if name not in _HTML_SIMPLE_TAGS and name not in ("a", "span", "tg-emoji"):
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, begin)}'
            )
        attributes = dict(
            (attr.group(1).lower(), (attr.group(2) or "").strip("\"'"))
            for attr in _HTML_ATTRIBUTE.finditer(source, (match.end() if match else i + 1), close)
        )
        kind: str | None
        extra: dict[str, Any] = {}
        if name == "a":
            href = html.unescape(attributes.get("href", ""))
            kind = "text_link" if href else None
            extra = {"url": href} if href else {}
        elif name == "span":
            if attributes.get("class") != "tg-spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(source, begin)}'
                )
            kind = "spoiler"
        elif name == "tg-emoji":
            kind = "custom_emoji"
            extra = {"custom_emoji_id": attributes.get("emoji-id", "")}
        else:
            kind = _HTML_SIMPLE_TAGS[name]
            if name == "blockquote" and "expandable" in attributes:
                kind = "expandable_blockquote"
            if name == "code" and stack and stack[-1][0] == "pre":
                language = attributes.get("class", "").removeprefix("language-")
                if language:
                    # Telegram folds <pre><code class="language-x"> into one pre entity.
                    pre_name, _, pre_start, _ = stack.pop()
                    stack.append((pre_name, "pre", pre_start, {"language": language}))
                    kind = None
        stack.append((name, kind, out.length, extra))
        i = close + 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


class _MarkdownV2:
    """Telegram's MarkdownV2, with its insistence on escaping every reserved character."""

    _MARKERS: ClassVar[dict[str, str]] = {
        "*": "bold",
        "_": "italic",
        "__": "underline",
        "~": "strikethrough",
        "||": "spoiler",
    }

    def __init__(self, source: str) -> None:
        self.source = source
        self.out = _Builder()
        # Open markers: (marker, start offset in output, byte offset in source)
        self.stack: list[tuple[str, int, int]] = []

    def _error_reserved(self, char: str) -> EntityParseError:
        return EntityParseError(
            f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
        )

    def parse(self) -> tuple[str, list[Entity]]:
        src = self.source
        i = 0
        n = len(src)
        while i < n:
            char = src[i]
            if char == "\\" and i + 1 < n and 0 < ord(src[i + 1]) < 127:
                self.out.add(src[i + 1])
                i += 2
                continue
            if char == "`":
                i = self._code(i)
                continue
            if char == "[":
                self.stack.append(("[", self.out.length, _byte_offset(src, i)))
                i += 1
                continue
            if char == "]" and self.stack and self.stack[-1][0] == "[":
                i = self._link_end(i)
                continue
            if char == ">" and (i == 0 or src[i - 1] == "\n"):
                i = self._blockquote(i)
                continue
            marker = src[i : i + 2] if src[i : i + 2] in ("__", "||") else char
            if marker in self._MARKERS:
                if self.stack and self.stack[-1][0] == marker:
                    _, start, _ = self.stack.pop()
                    self.out.entity(self._MARKERS[marker], start)
                elif any(open_marker == marker for open_marker, _, _ in self.stack):
                    raise EntityParseError(
                        f"Can't find end of {self._MARKERS[self.stack[-1][0]].capitalize()} entity "
                        f"at byte offset {self.stack[-1][2]}"
                    )
                else:
                    self.stack.append((marker, self.out.length, _byte_offset(src, i)))
                i += len(marker)
                continue
            if char in _MARKDOWN_V2_RESERVED:
                raise self._error_reserved(char)
            self.out.add(char)
            i += 1
        if self.stack:
            marker, _, byte_offset = self.stack[-1]
            kind = "TextUrl" if marker == "[" else self._MARKERS[marker].capitalize()
            raise EntityParseError(f"Can't find end of {kind} entity at byte offset {byte_offset}")
        return self.out.result()

    def _code(self, i: int) -> int:
        src = self.source
        fence = "```" if src.startswith("```", i) else "`"
        begin_byte = _byte_offset(src, i)
        j = i + len(fence)
        language = ""
        if fence == "```":
            newline = src.find("\n", j)
            first_line = src[j:newline] if newline != -1 else ""
            if newline != -1 and first_line and " " not in first_line and "`" not in first_line:
                language = first_line
                j = newline + 1
        start = self.out.length
        while j < len(src):
            if src[j] == "\\" and j + 1 < len(src) and src[j + 1] in "`\\":
                self.out.add(src[j + 1])
                j += 2
                continue
            if src.startswith(fence, j):
                if fence == "```":
                    self.out.entity("pre", start, **({"language": language} if language else {}))
                else:
                    self.out.entity("code", start)
                return j + len(fence)
            self.out.add(src[j])
            j += 1
        kind = "Pre" if fence == "```" else "Code"
        raise EntityParseError(f"Can't find end of {kind} entity at byte offset {begin_byte}")

    def _link_end(self, i: int) -> int:
        src = self.source
        _, start, _ = self.stack.pop()
        if not src.startswith("(", i + 1):
            # Telegram reads "[text]" without a URL as plain text but insists on escaping.
            raise self._error_reserved("]")
        j = i + 2
        url_chars: list[str] = []
        while j < len(src) and src[j] != ")":
            if src[j] == "\\" and j + 1 < len(src):
                url_chars.append(src[j + 1])
                j += 2
                continue
            url_chars.append(src[j])
            j += 1
        if j >= len(src):
            raise EntityParseError(
                f"Can't find end of a URL at byte offset {_byte_offset(src, i + 1)}"
            )
        url = "".join(url_chars)
        if url.startswith("tg://user?id="):
            self.out.entity("text_mention", start, user={"id": int(url.split("=", 1)[1] or 0)})
        elif url:
            self.out.entity("text_link", start, url=url)
        return j + 1

    def _blockquote(self, i: int) -> int:
        src = self.source
        end = src.find("\n", i)
        end = len(src) if end == -1 else end
        start = self.out.length
        inner_text, inner_entities = _MarkdownV2(src[i + 1 : end]).parse()
        for entity in inner_entities:
            self.out.entities.append({**entity, "offset": entity["offset"] + start})
        self.out.add(inner_text)
        self.out.entity("blockquote", start)
        return end


def _parse_markdown_legacy(source: str) -> tuple[str, list[Entity]]:
    out = _Builder()
    markers = {"*": "bold", "_": "italic"}
    i = 0
    n = len(source)
    while i < n:
        char = source[i]
        if char == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.add(source[i + 1])
            i += 2
            continue
        if char in markers or char == "`" or char == "[":
            begin_byte = _byte_offset(source, i)
            if source.startswith("```", i):
                end = source.find("```", i + 3)
                if end == -1:
                    raise EntityParseError(
                        f"Can't find end of the entity starting at byte offset {begin_byte}"
                    )
                start = out.length
                out.add(source[i + 3 : end])
                out.entity("pre", start)
                i = end + 3
                continue
            closing = "]" if char == "[" else char
            end = source.find(closing, i + 1)
            if end == -1:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {begin_byte}"
                )
            start = out.length
            out.add(source[i + 1 : end])
            if char == "[":
                if source.startswith("(", end + 1):
                    url_end = source.find(")", end + 2)
                    if url_end == -1:
                        raise EntityParseError(
                            f"Can't find end of the entity starting at byte offset {begin_byte}"
                        )
                    out.entity("text_link", start, url=source[end + 2 : url_end])
                    i = url_end + 1
                    continue
                # "[text]" without a URL is not a link: the brackets stay as typed.
                out.parts[-1] = source[i : end + 1]
                out.length += 2
                i = end + 1
                continue
            out.entity("code" if char == "`" else markers[char], start)
            i = end + 1
            continue
        out.add(char)
        i += 1
    return out.result()
