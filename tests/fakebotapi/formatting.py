"""parse_mode for the fake Bot API: text with HTML or Markdown markup to plain text and
entities, with Telegram's errors for malformed markup."""

from __future__ import annotations

import re
from typing import Any

from tests.fakebotapi.common import (
    JSON,
    MAX_TEXT_LENGTH,
    BotApiError,
    _bad,
    _utf16_len,
)

# -- parse_mode: text with markup -> plain text and entities ----------------------------------


def _message_text(params: JSON) -> tuple[str, str, list[JSON]]:
    """(raw text, text after markup, entities) of a sendMessage/editMessageText call, refusing
    what Telegram refuses: empty text, broken markup, more than 4096 characters."""
    raw = params.get("text")
    if raw is None or str(raw) == "":
        raise _bad("message text is empty")
    text, entities = _format(str(raw), params.get("parse_mode"), params.get("entities"))
    if not text.strip():
        raise _bad("message text is empty")
    if _utf16_len(text) > MAX_TEXT_LENGTH:
        raise _bad("message is too long")
    return str(raw), text, entities


def _entities_error(detail: str) -> BotApiError:
    return _bad(f"can't parse entities: {detail}")


class _TextBuilder:
    """Accumulates plain text and its entities (offsets in UTF-16 code units)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.entities: list[JSON] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length += _utf16_len(text)

    def entity(self, kind: str, start: int, **fields: Any) -> None:
        if self.length > start:
            self.entities.append(
                {"type": kind, "offset": start, "length": self.length - start, **fields}
            )

    def result(self) -> tuple[str, list[JSON]]:
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


def _format(text: str, parse_mode: Any, entities: Any) -> tuple[str, list[JSON]]:
    if not parse_mode:
        return text, list(entities) if isinstance(entities, list) else []
    mode = str(parse_mode).lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown(text)
    raise _bad("unsupported parse_mode")


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ATTRIBUTE = re.compile(r"""([a-zA-Z0-9-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")
_HTML_PLAIN = re.compile(r"[^<&]+")


def _html_entity(match: re.Match[str]) -> str:
    decimal, hexadecimal, named = match.groups()
    if named:
        return _HTML_NAMED[named]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    return chr(code) if 0 < code < 0x110000 else match[0]


def _parse_html(source: str) -> tuple[str, list[JSON]]:
    """Parse Telegram's HTML subset, with the error texts of tdlib's parser."""
    out = _TextBuilder()
    stack: list[tuple[str, JSON, int]] = []
    i, n = 0, len(source)

    def at(pos: int) -> int:
        return len(source[:pos].encode())

    while i < n:
        if plain := _HTML_PLAIN.match(source, i):
            out.add(plain[0])
            i = plain.end()
            continue
        if source[i] == "&":
            entity = _HTML_ENTITY.match(source, i)
            out.add(_html_entity(entity) if entity else "&")
            i = entity.end() if entity else i + 1
            continue
        begin = i
        if source.startswith("</", i):
            if not stack:
                raise _entities_error(f"Unexpected end tag at byte offset {at(begin)}")
            j = i + 2
            while j < n and source[j] != ">" and not source[j].isspace():
                j += 1
            name = source[i + 2 : j].lower()
            while j < n and source[j].isspace():
                j += 1
            if j >= n or source[j] != ">":
                raise _entities_error(f"Unclosed end tag at byte offset {at(begin)}")
            tag, open_attributes, start = stack[-1]
            if name and name != tag:
                raise _entities_error(
                    f'Unmatched end tag at byte offset {at(begin)}, expected "</{tag}>", '
                    f'found "</{name}>"'
                )
            stack.pop()
            _close_html_tag(out, stack, tag, open_attributes, start)
            i = j + 1
            continue
        j = i + 1
        while j < n and source[j] != ">" and not source[j].isspace():
            j += 1
        if j >= n:
            raise _entities_error(f"Unclosed start tag at byte offset {at(begin)}")
        name = source[i + 1 : j].lower()
        if name not in _HTML_TAGS:
            raise _entities_error(f'Unsupported start tag "{name}" at byte offset {at(begin)}')
        attributes: JSON = {}
        while True:
            while j < n and source[j].isspace():
                j += 1
            if j >= n:
                raise _entities_error(f"Unclosed start tag at byte offset {at(begin)}")
            if source[j] == ">":
                break
            attribute = _HTML_ATTRIBUTE.match(source, j)
            if attribute is None:
                raise _entities_error(
                    f'Empty attribute name in the tag "{name}" at byte offset {at(begin)}'
                )
            value = next((v for v in attribute.group(2, 3, 4) if v is not None), "")
            attributes[attribute[1].lower()] = _HTML_ENTITY.sub(_html_entity, value)
            j = attribute.end()
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise _entities_error(
                f'Tag "span" must have class "tg-spoiler" at byte offset {at(begin)}'
            )
        stack.append((name, attributes, out.length))
        i = j + 1
    if stack:
        raise _entities_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


def _close_html_tag(
    out: _TextBuilder, stack: list[tuple[str, JSON, int]], tag: str, attributes: JSON, start: int
) -> None:
    if tag == "a":
        if attributes.get("href"):
            out.entity("text_link", start, url=attributes["href"])
    elif tag == "code" and stack and stack[-1][0] == "pre":
        # <pre><code class="language-x"> is one pre entity with a language.
        language = str(attributes.get("class", ""))
        if language.startswith("language-"):
            stack[-1][1]["_language"] = language.removeprefix("language-")
    elif tag == "pre":
        pre_language = attributes.get("_language")
        out.entity("pre", start, **({"language": pre_language} if pre_language else {}))
    elif tag == "blockquote":
        kind = "expandable_blockquote" if "expandable" in attributes else "blockquote"
        out.entity(kind, start)
    elif tag == "tg-emoji":
        out.entity("custom_emoji", start, custom_emoji_id=str(attributes.get("emoji-id", "")))
    else:
        out.entity(_HTML_TAGS[tag], start)


_MARKDOWN_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MARKDOWN_V2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _parse_markdown_v2(source: str) -> tuple[str, list[JSON]]:
    """Parse MarkdownV2 the way tdlib does, including its "must be escaped" errors."""
    out = _TextBuilder()
    stack: list[tuple[str, int, int, JSON]] = []  # kind, start, byte offset, extra fields
    i, n = 0, len(source)

    def at(pos: int) -> int:
        return len(source[:pos].encode())

    def close(kind: str, start: int, fields: JSON) -> None:
        out.entity(kind, start, **fields)

    while i < n:
        ch = source[i]
        top = stack[-1][0] if stack else None
        if ch == "\\" and i + 1 < n and 0 < ord(source[i + 1]) < 127:
            out.add(source[i + 1])
            i += 2
            continue
        if top in ("code", "pre"):
            closing = "```" if top == "pre" else "`"
            if source.startswith(closing, i):
                _, start, _, fields = stack.pop()
                close(top, start, fields)
                i += len(closing)
            else:
                out.add(ch)
                i += 1
            continue
        if ch == ">" and (i == 0 or source[i - 1] == "\n"):
            if top != "blockquote":
                stack.append(("blockquote", out.length, at(i), {}))
            i += 1
            continue
        if ch == "\n" and top == "blockquote" and not source.startswith(">", i + 1):
            _, start, _, fields = stack.pop()
            close("blockquote", start, fields)
            out.add(ch)
            i += 1
            continue
        if ch not in _MARKDOWN_V2_RESERVED:
            out.add(ch)
            i += 1
            continue
        ends = {
            "bold": ch == "*",
            "italic": ch == "_" and not source.startswith("__", i),
            "underline": source.startswith("__", i),
            "strikethrough": ch == "~",
            "spoiler": source.startswith("||", i),
            "text_link": ch == "]",
            "custom_emoji": ch == "]",
        }
        if top is not None and ends.get(top, False):
            kind, start, begin, fields = stack.pop()
            i += 2 if kind in ("underline", "spoiler") else 1
            if kind in ("text_link", "custom_emoji"):
                url = ""
                if source.startswith("(", i):
                    j, chars = i + 1, []
                    while j < n and source[j] != ")":
                        if source[j] == "\\" and j + 1 < n:
                            j += 1
                        chars.append(source[j])
                        j += 1
                    if j >= n:
                        raise _entities_error(f"Can't find end of a URL at byte offset {at(i)}")
                    url, i = "".join(chars), j + 1
                if kind == "custom_emoji":
                    emoji_id = url.removeprefix("tg://emoji?id=")
                    if emoji_id == url or not emoji_id:
                        raise _entities_error(
                            "Custom emoji entity must contain a tg://emoji URL "
                            f"at byte offset {begin}"
                        )
                    close(kind, start, {"custom_emoji_id": emoji_id})
                elif url:
                    close(kind, start, {"url": url})
            else:
                close(kind, start, fields)
            continue
        begin = at(i)
        if ch == "_" and source.startswith("__", i):
            stack.append(("underline", out.length, begin, {}))
            i += 2
        elif ch == "_":
            stack.append(("italic", out.length, begin, {}))
            i += 1
        elif ch == "*":
            stack.append(("bold", out.length, begin, {}))
            i += 1
        elif ch == "~":
            stack.append(("strikethrough", out.length, begin, {}))
            i += 1
        elif source.startswith("||", i):
            stack.append(("spoiler", out.length, begin, {}))
            i += 2
        elif ch == "[":
            stack.append(("text_link", out.length, begin, {}))
            i += 1
        elif source.startswith("![", i):
            stack.append(("custom_emoji", out.length, begin, {}))
            i += 2
        elif source.startswith("```", i):
            i += 3
            pre_fields: JSON = {}
            newline = source.find("\n", i)
            fence = source.find("```", i)
            if newline != -1 and (fence == -1 or newline < fence):
                language = source[i:newline]
                if language and not any(c.isspace() for c in language):
                    pre_fields["language"] = language
                i = newline + 1
            stack.append(("pre", out.length, begin, pre_fields))
        elif ch == "`":
            stack.append(("code", out.length, begin, {}))
            i += 1
        else:
            raise _entities_error(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
    if stack and stack[-1][0] == "blockquote":
        _, start, _, fields = stack.pop()
        close("blockquote", start, fields)
    if stack:
        kind, _, begin, _ = stack[-1]
        raise _entities_error(
            f"Can't find end of {_MARKDOWN_V2_NAMES.get(kind, kind)} entity at byte offset {begin}"
        )
    return out.result()


def _parse_markdown(source: str) -> tuple[str, list[JSON]]:
    """Parse legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting."""
    out = _TextBuilder()
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.add(source[i + 1])
            i += 2
            continue
        if ch not in "_*`[":
            out.add(ch)
            i += 1
            continue
        begin = len(source[:i].encode())
        start = out.length
        if source.startswith("```", i):
            end = source.find("```", i + 3)
            if end == -1:
                raise _entities_error(
                    f"Can't find end of the entity starting at byte offset {begin}"
                )
            body, language = source[i + 3 : end], ""
            first, newline, rest = body.partition("\n")
            if newline and first and not any(c.isspace() for c in first):
                body, language = rest, first
            out.add(body)
            out.entity("pre", start, **({"language": language} if language else {}))
            i = end + 3
            continue
        closing = "]" if ch == "[" else ch
        end = source.find(closing, i + 1)
        if end == -1:
            raise _entities_error(f"Can't find end of the entity starting at byte offset {begin}")
        out.add(source[i + 1 : end])
        i = end + 1
        if ch == "[":
            if source.startswith("(", i):
                url_end = source.find(")", i)
                if url_end == -1:
                    raise _entities_error(
                        f"Can't find end of the entity starting at byte offset {begin}"
                    )
                out.entity("text_link", start, url=source[i + 1 : url_end])
                i = url_end + 1
        else:
            out.entity({"*": "bold", "_": "italic", "`": "code"}[ch], start)
    return out.result()
