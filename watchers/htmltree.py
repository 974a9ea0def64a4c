"""A tiny, forgiving HTML tree on top of the stdlib html.parser.

Watchers read HTML from the web (t.me/s/ pages, article pages, Reddit/RSS entry bodies).  A
small tree with class/tag lookups keeps those parsers readable without adding a dependency
such as BeautifulSoup, and it never raises on bad markup: unknown end tags are ignored, and
unclosed elements are closed by their parent's end tag.  Traversal is iterative and depth is
capped, so hostile nesting cannot exhaust the stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip
BLOCK_TAGS = frozenset(
    {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table",
     "ul", "ol", "section", "article"}
)  # fmt: skip
SKIP_TEXT_TAGS = frozenset({"script", "style", "template", "noscript"})
MAX_DEPTH = 256


@dataclass(eq=False)
class Element:
    """One element: tag, attributes (entity-decoded), children (elements and text)."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Element | str] = field(default_factory=list)
    parent: Element | None = None

    @property
    def classes(self) -> frozenset[str]:
        return frozenset(self.attrs.get("class", "").split())

    def has_class(self, name: str) -> bool:
        return name in self.classes

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    def iter(self) -> Iterator[Element]:
        """This element and all descendant elements, in document order."""
        stack: list[Element] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(c for c in reversed(node.children) if isinstance(c, Element))

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        """Descendants (not self) matching the tag name and/or one class name."""
        return [
            el
            for el in self.iter()
            if el is not self
            and (tag is None or el.tag == tag)
            and (cls is None or el.has_class(cls))
        ]

    def find(self, tag: str | None = None, cls: str | None = None) -> Element | None:
        found = self.find_all(tag, cls)
        return found[0] if found else None

    def has_ancestor(self, cls: str, stop: Element | None = None) -> bool:
        """True when an ancestor below `stop` carries class `cls`."""
        node = self.parent
        while node is not None and node is not stop:
            if node.has_class(cls):
                return True
            node = node.parent
        return False

    def text(self) -> str:
        """Readable text: <br> and block elements become line breaks, spaces collapsed."""
        parts: list[str] = []
        stack: list[Element | str] = [self]
        while stack:
            node = stack.pop()
            if isinstance(node, str):
                parts.append(node)
                continue
            if node.tag in SKIP_TEXT_TAGS:
                continue
            if node.tag == "br" or node.tag in BLOCK_TAGS:
                parts.append("\n")
            if node.tag in BLOCK_TAGS:
                stack.append("\n")
            stack.extend(reversed(node.children))
        lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
        out: list[str] = []
        for line in lines:
            if line or (out and out[-1]):
                out.append(line)
        return "\n".join(out).strip()


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document")
        self._stack: list[Element] = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        parent = self._stack[-1]
        el = Element(tag, {k: (v or "") for k, v in attrs}, parent=parent)
        parent.children.append(el)
        if tag not in VOID_TAGS and len(self._stack) < MAX_DEPTH:
            self._stack.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        parent = self._stack[-1]
        parent.children.append(Element(tag, {k: (v or "") for k, v in attrs}, parent=parent))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._stack) - 1, 0, -1):
            if self._stack[i].tag == tag:
                del self._stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self._stack[-1].children.append(data)


def parse_html(data: bytes | str) -> Element:
    """Parse HTML (bytes are decoded as UTF-8, bad bytes replaced) into a tree; never raises."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    builder = _TreeBuilder()
    try:
        builder.feed(text)
        builder.close()
    except (AssertionError, ValueError):  # old html.parser edge cases; keep what was parsed
        pass
    return builder.root


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (feed summaries, post bodies)."""
    return parse_html(fragment).text()
