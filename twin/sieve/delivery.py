"""What the mailbox does with a script's result: Pigeonhole's second level (``sieve-test -e``), which the
store runs at stage 12 (docs/platform.md §3.2).

- The actions are one transaction. A ``fileinto`` of a folder the mailbox does not have fails it: nothing
  else is done (no redirect, no vacation reply) and the message goes to INBOX (Pigeonhole's "failed;
  resolved with successful implicit keep"; Cyrus's lmtpd also falls back to INBOX). So does a run-time
  error of the script. The seed's warning that semantic errors "can lose mail" is the other kind: a
  ``discard`` or a ``redirect`` to a wrong address does exactly what it says.
- A vacation reply is suppressed (RFC 5230 §4.5, §4.6, in the order Pigeonhole checks) for the null
  sender, a reply already sent to this sender with this handle within the period, mailing-list mail
  (any ``List-*`` field of RFC 2369/2919), ``Auto-Submitted`` other than ``no``, ``Precedence`` bulk,
  list or junk, ``X-Auto-Response-Suppress`` OOF or All, system senders (MAILER-DAEMON, LISTSERV,
  majordomo, ``*-request``, ``owner-*``), and mail whose To/Cc/Bcc (or Resent-) fields name neither the
  recipient nor one of ``:addresses``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twin.sieve.message import Message, split_address
from twin.sieve.script import INBOX, Result, Vacation

LIST_FIELDS = (
    "list-id",
    "list-owner",
    "list-subscribe",
    "list-post",
    "list-unsubscribe",
    "list-help",
    "list-archive",
)
ADDRESSED_FIELDS = ("to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc")
SYSTEM_LOCALPARTS = ("mailer-daemon", "listserv", "majordomo")


class VacationMemory:
    """Pigeonhole's duplicate database for vacation: when a reply last went from a recipient to a sender
    under a handle (RFC 5230 §4.2: at most one reply per sender per period)."""

    def __init__(self):
        self._sent: dict[tuple[str, str, str], float] = {}

    def recent(self, recipient: str, sender: str, handle: str, now: float, period: float) -> bool:
        at = self._sent.get((recipient.lower(), sender.lower(), handle))
        return at is not None and now - at < period

    def mark(self, recipient: str, sender: str, handle: str, now: float) -> None:
        self._sent[(recipient.lower(), sender.lower(), handle)] = now


@dataclass
class Delivery:
    """``stored``: folders the message was filed into; ``redirected``: addresses it was forwarded to;
    ``discarded``: it was discarded and stored nowhere; ``vacation``: None without a vacation action,
    else ``{"sent": bool, "reason": str}``; ``errors``: why the transaction failed (then INBOX)."""

    stored: list[str] = field(default_factory=list)
    redirected: list[str] = field(default_factory=list)
    discarded: bool = False
    vacation: dict | None = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "stored": self.stored,
            "redirected": self.redirected,
            "discarded": self.discarded,
            "vacation": self.vacation,
        }


def _has_folder(folders, folder: str) -> bool:
    return folder == INBOX or folder in folders


def deliver(
    result: Result,
    message: Message,
    folders=(),
    memory: VacationMemory | None = None,
    now: float = 0.0,
) -> Delivery:
    """Carry out ``result`` for a mailbox that has ``folders`` (INBOX always exists)."""
    if result.errors:
        return Delivery(stored=[INBOX], errors=list(result.errors))
    missing = [a[1] for a in result.actions if a[0] == "store" and not _has_folder(folders, a[1])]
    if missing:
        return Delivery(
            stored=[INBOX],
            errors=[
                f"fileinto action: failed to store into mailbox '{f}': Mailbox doesn't exist" for f in missing
            ],
        )
    out = Delivery()
    for action in result.actions:
        kind = action[0]
        if kind == "store":
            out.stored.append(action[1])
        elif kind == "redirect":
            out.redirected.append(action[1])
        elif kind == "vacation":
            out.vacation = _vacation(action[1], message, memory, now)
    if result.implicit_keep and INBOX not in out.stored:
        out.stored.append(INBOX)
    out.discarded = not out.stored and ("discard",) in result.actions
    return out


def vacation_suppressed(message: Message, vacation: Vacation) -> str | None:
    """Why no reply may go to this message (None: it may), the recipient's own checks left aside."""
    sender = message.sender
    if not sender:
        return "null sender"
    if any(message.has(f) for f in LIST_FIELDS):
        return "mailing list"
    auto = message.header("auto-submitted")
    if auto and auto[0].split(";")[0].strip().lower() != "no":
        return "auto-submitted"
    precedence = message.header("precedence")
    if precedence and precedence[0].lower() in ("bulk", "list", "junk"):
        return f"precedence {precedence[0].lower()}"
    suppress = message.header("x-auto-response-suppress")
    if suppress and any(w.strip().lower() in ("oof", "all") for w in suppress[0].split(",")):
        return "auto-response suppressed"
    local = (split_address(sender) or (sender, ""))[0].lower()
    if local in SYSTEM_LOCALPARTS or "-request" in local or local.startswith("owner-"):
        return "system address"
    mine = {message.recipient.lower(), *(a.lower() for a in vacation.addresses)}
    if not any(a.lower() in mine for f in ADDRESSED_FIELDS for a in message.addresses(f)):
        return "recipient not in headers"
    return None


def vacation_subject(vacation: Vacation, message: Message | None) -> str:
    """The reply's subject: ``:subject``, else Pigeonhole's default ``Auto: <the original subject>``."""
    if vacation.subject is not None:
        return vacation.subject
    original = message.header("subject") if message is not None else []
    return f"Auto: {original[0]}" if original else "Automated reply"


def _vacation(vacation: Vacation, message: Message, memory: VacationMemory | None, now: float) -> dict:
    """``{"sent": bool, "reason": str}``; a reply sent is remembered in ``memory``."""
    sender, recipient = message.sender, message.recipient
    if (
        sender
        and memory is not None
        and memory.recent(recipient, sender, vacation.handle, now, vacation.seconds)
    ):
        return {"sent": False, "reason": "duplicate"}
    reason = vacation_suppressed(message, vacation)
    if reason is not None:
        return {"sent": False, "reason": reason}
    if memory is not None:
        memory.mark(recipient, sender, vacation.handle, now)
    return {"sent": True, "reason": f"reply to <{sender}>"}
