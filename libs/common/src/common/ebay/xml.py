"""Trading API XML: requests out, and responses parsed as a stream into plain records.

**Element → value** (:func:`element_value`), one rule for every Trading record and for the
sandbox's ground truth alike, so a mirrored payload and its truth compare equal:

- tags lose their namespace (``{urn:ebay:apis:eBLBaseComponents}ItemID`` → ``ItemID``);
- an element without children and attributes is its text, verbatim (``""`` when empty); values
  stay strings — typing them is the writer mapping's job, so the record is exactly what eBay sent;
- an element with attributes or children is a dict: attributes as ``"@name"``, children by tag;
  an element with attributes but no children keeps its text as ``"#text"``, so
  ``<CurrentPrice currencyID="USD">19.99</CurrentPrice>`` is
  ``{"@currencyID": "USD", "#text": "19.99"}``; text between children (mixed content, which
  Trading does not use) is kept as ``"#text"`` only when it is not whitespace;
- a child tag that occurs more than once is a list in document order; a tag that occurs once is
  a plain value, even where the schema allows repeats (readers of repeatable fields accept both).

**Bounded memory**: :class:`RecordStream` takes the body chunk by chunk (``XMLPullParser``);
each record element (e.g. ``ActiveList/ItemArray/Item``) becomes a dict the moment it closes and
is then detached from the tree, so what stays in memory is the current record, the records not
yet taken and the small envelope (``Ack``, ``Errors``, ``PaginationResult``), never the document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast
from xml.etree import ElementTree
from xml.sax.saxutils import escape

NAMESPACE = "urn:ebay:apis:eBLBaseComponents"

Record = dict[str, Any]
# A request field: text, a nested element, or a list of either (repeated elements).
RequestValue = str | int | Mapping[str, "RequestValue"] | Sequence["RequestValue"]


class MalformedXmlError(ValueError):
    """The document is not well-formed XML (or ends early)."""


def local_name(tag: str) -> str:
    """A tag or attribute name without its ``{namespace}``."""
    return tag.rpartition("}")[2]


def element_value(element: ElementTree.Element) -> str | Record:
    """One element as a plain value (the rules are in the module docstring)."""
    children = list(element)
    text = element.text or ""
    if not children and not element.attrib:
        return text
    value: Record = {f"@{local_name(k)}": v for k, v in element.attrib.items()}
    if not children:
        value["#text"] = text
        return value
    if text.strip():
        value["#text"] = text
    for child in children:
        name = local_name(child.tag)
        converted = element_value(child)
        # Converted values are never lists themselves, so a list here is a repeated tag.
        existing = value.get(name)
        if existing is None:
            value[name] = converted
        elif isinstance(existing, list):
            existing.append(converted)
        else:
            value[name] = [existing, converted]
    return value


class RecordStream:
    """Incremental parse of one response; records at ``record_path`` come out as they close.

    ``record_path`` is the path of local names below the root element, e.g.
    ``("ActiveList", "ItemArray", "Item")``.
    """

    def __init__(self, record_path: Sequence[str]) -> None:
        self._record_path = tuple(record_path)
        self._parser: ElementTree.XMLPullParser[ElementTree.Element] = ElementTree.XMLPullParser(
            events=("start", "end")
        )
        # The open elements from the root down, and their local names below the root.
        self._open: list[ElementTree.Element] = []
        self._names: list[str] = []
        self._root: ElementTree.Element | None = None

    def feed(self, chunk: bytes) -> list[Record]:
        """Parse one more chunk; the records it completed, in document order."""
        # A syntax error surfaces from feed() or, queued as an event, from read_events().
        try:
            self._parser.feed(chunk)
            return self._drain()
        except ElementTree.ParseError as exc:
            raise MalformedXmlError(str(exc)) from exc

    def close(self) -> tuple[list[Record], Record]:
        """End of the body: the last records, and the envelope (the document without records)."""
        try:
            self._parser.close()
            records = self._drain()
        except ElementTree.ParseError as exc:
            raise MalformedXmlError(str(exc)) from exc
        if self._root is None:
            raise MalformedXmlError("empty document")
        envelope = element_value(self._root)
        return records, envelope if isinstance(envelope, dict) else {}

    def _drain(self) -> list[Record]:
        records: list[Record] = []
        for event_and_element in self._parser.read_events():
            # Only "start" and "end" were asked for: every event is (name, Element).
            event, element = cast(tuple[str, ElementTree.Element], event_and_element)
            if event == "start":
                if self._root is None:
                    self._root = element
                else:
                    self._names.append(local_name(element.tag))
                self._open.append(element)
                continue
            self._open.pop()
            if element is self._root:
                continue
            if tuple(self._names) == self._record_path:
                records.append(_as_record(element_value(element)))
                # Detach it: the parent (and so the tree) never holds more than one record.
                self._open[-1].remove(element)
            self._names.pop()
        return records


def _as_record(value: str | Record) -> Record:
    # A record element always has children; an empty one carries nothing.
    return value if isinstance(value, dict) else {}


def parse_document(document: bytes, record_path: Sequence[str]) -> tuple[list[Record], Record]:
    """A whole document at once (the sandbox's ground truth, tests): records and envelope."""
    stream = RecordStream(record_path)
    records = stream.feed(document)
    rest, envelope = stream.close()
    return records + rest, envelope


def request_xml(call: str, fields: Mapping[str, RequestValue]) -> bytes:
    """``<{call}Request xmlns="urn:ebay:apis:eBLBaseComponents">…</…>`` with ``fields`` inside,
    in their order; a list value repeats its element."""
    body = "".join(_field_xml(name, value) for name, value in fields.items())
    root = f"{call}Request"
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<{root} xmlns="{NAMESPACE}">{body}</{root}>'
    ).encode()


def _field_xml(name: str, value: RequestValue) -> str:
    if isinstance(value, str | int):
        return f"<{name}>{escape(str(value))}</{name}>"
    if isinstance(value, Mapping):
        inner = "".join(_field_xml(k, v) for k, v in value.items())
        return f"<{name}>{inner}</{name}>"
    return "".join(_field_xml(name, item) for item in value)


def path_value(record: Mapping[str, Any], *path: str) -> Any:
    """The value at ``path`` in a converted record, or None where the path breaks off."""
    value: Any = record
    for step in path:
        value = value.get(step) if isinstance(value, Mapping) else None
    return value
