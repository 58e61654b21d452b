"""What a Sieve script sees of a message: its header fields (decoded), its size and its envelope.

The same class serves a real RFC 5322 message (``Message.parse``, for ``mailtwin sieve-test``) and the
simulation, whose messages carry only the fields scripts test (``Message(fields, size, ...)``).

- Header values are unfolded, RFC 2047 encoded words decoded, and leading and trailing white space
  removed (RFC 5228 §5.7: tests compare the decoded value).
- Addresses in a header are parsed as RFC 5322 address lists (groups and comments allowed, the display
  name ignored); an address part of a malformed address does not match (RFC 5228 §5.1).
- The envelope ``from`` is the SMTP MAIL FROM; the null reverse path is ``""`` and matches only the empty
  string, whatever the address part (RFC 5228 §5.4).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
from email.header import decode_header, make_header
from email.utils import getaddresses

__all__ = ["Message", "split_address"]


def _decoded(raw: str) -> str:
    text = raw.replace("\r\n", "\n").replace("\n", "")
    if "=?" in text:  # RFC 2047 encoded words; a malformed one stays as it came
        with contextlib.suppress(ValueError, LookupError, UnicodeDecodeError):
            text = str(make_header(decode_header(text)))
    return text.strip()


def split_address(address: str) -> tuple[str, str] | None:
    """(local part, domain) of ``addr-spec``; None when it has no ``@``."""
    at = address.rfind("@")
    if at <= 0:
        return None
    return address[:at], address[at + 1 :]


class Message:
    """A message as Sieve tests see it.

    ``fields``: ``{name: [value, ...]}`` with values as they appear after the colon (decoded here);
    ``size``: octets; ``sender``: the envelope sender (``""`` for ``<>``); ``recipient``: the envelope
    recipient (the mailbox the script belongs to)."""

    __slots__ = ("_addresses", "_fields", "recipient", "sender", "size")

    def __init__(self, fields: dict[str, list[str]], size: int, sender: str, recipient: str):
        self._fields = {name.lower(): [_decoded(v) for v in values] for name, values in fields.items()}
        self._addresses: dict[str, list[str]] = {}
        self.size = int(size)
        self.sender = sender
        self.recipient = recipient

    @classmethod
    def plain(cls, fields: dict[str, list[str]], size: int, sender: str, recipient: str) -> Message:
        """A message whose ``fields`` are known to be decoded already, their names in lower case (the
        simulation's, ``components/filters.py``): nothing to unfold or decode."""
        self = cls.__new__(cls)
        self._fields = fields
        self._addresses = {}
        self.size = size
        self.sender = sender
        self.recipient = recipient
        return self

    @classmethod
    def parse(cls, raw: bytes, sender: str | None = None, recipient: str | None = None) -> Message:
        """A message file. Without ``sender``/``recipient`` they come from its header, as Pigeonhole's
        ``sieve-test`` takes them: the sender from Return-Path, else Sender, else From; the recipient
        from Envelope-To, else the first To."""
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        fields: dict[str, list[str]] = {}
        for name, value in msg.items():
            fields.setdefault(name, []).append(str(value))
        parsed = cls(fields, len(raw), "", "")
        if sender is None:
            found = (a for f in ("return-path", "sender", "from") for a in parsed.addresses(f) if a)
            sender = next(found, "")
        if recipient is None:
            recipient = next((a for f in ("envelope-to", "to") for a in parsed.addresses(f) if a), "")
        parsed.sender, parsed.recipient = sender, recipient
        return parsed

    def text(self) -> bytes:
        """The message as an RFC 5322 file (what ``sieve-test`` reads): a Return-Path with the envelope
        sender, the header fields (names capitalised), and a body that brings it to ``size`` octets."""
        lines = [f"Return-Path: <{self.sender}>"]
        for name, values in self._fields.items():
            shown = "-".join(w.capitalize() for w in name.split("-"))
            lines += [f"{shown}: {v}" for v in values]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        body = max(0, self.size - len(head))
        row = b"x" * 76 + b"\r\n"
        return head + (row * (body // len(row) + 1))[:body]

    def header(self, name: str) -> list[str]:
        """Every value of the header field ``name`` (case-insensitive), decoded, in message order."""
        return self._fields.get(name.lower(), [])

    def has(self, name: str) -> bool:
        return name.lower() in self._fields

    def addresses(self, name: str) -> list[str]:
        """The addresses (``local@domain``) in every instance of header field ``name``."""
        key = name.lower()
        found = self._addresses.get(key)
        if found is None:
            found = [addr for _, addr in getaddresses(self._fields.get(key, [])) if addr]
            self._addresses[key] = found
        return found
