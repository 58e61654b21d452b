"""Stage 12: the mailboxes' Sieve scripts, run by the store at delivery (seed §3.2; docs/sieve.md).

A share of the mailboxes runs one of the scenario's script templates (``Mailboxes.script_of``). When the
store has taken a message for such a mailbox (the 250 at LMTP), it runs the script with the same engine as
``mailtwin sieve-test`` (``twin/sieve/``) on the header fields the message carries (``sim/headers.py``)
and does what the delivery level says (``sieve.deliver``):

- filed or kept: ``delivered``, with the (first) folder in the ledger's ``folder`` column, stage ``sieve``;
- a script that does not compile (Cyrus then ignores it), or whose actions fail (``fileinto`` a folder the
  mailbox lacks, a run-time error): ``delivered`` to INBOX, stage ``sieve: syntax error`` or ``sieve:
  failed, kept in INBOX``;
- discarded: ``discarded``;
- redirected and not kept: ``redirected``; each redirect is a new message (traffic class ``redirect``, the
  original as parent, the original's envelope sender) that the store hands to the frontend it came from,
  which routes it (LMTP to a local mailbox, SMTP to a remote domain) and delivers it under its retry rules;
- a vacation reply that is due (RFC 5230; the reasons it is not are counted): a new message from ``<>``
  (traffic class ``vacation``) to the envelope sender, also through that frontend.

What it leaves out: the script's CPU time at the store (microseconds against the LMTP work), a redirect's
trip through the frontends' scanners (the copy's content was scanned when it came in), and Pigeonhole's
duplicate tracking of redirects by Message-ID, for which the twin has a simpler loop guard: a copy that a
redirect sent on is not redirected again.
"""

from __future__ import annotations

import numpy as np

from twin.sieve import Message as SieveMessage
from twin.sieve import VacationMemory, compile_script, deliver
from twin.sieve.message import split_address
from twin.sieve.script import INBOX
from twin.sim.flow import LOCAL, SYSTEM, Mail
from twin.sim.headers import AUTO, BCC, BULK, GENERATED, LIST, SHIFT
from twin.sim.ledger import STATE_CODE

# The header fields a simulated message can have (``Filters.field``); a script that tests any other sees none.
FIELDS = (
    "from",
    "to",
    "subject",
    "list-id",
    "precedence",
    "auto-submitted",
    "x-perlmx-spam",
    "x-imt-spam-score",
)
GENERATED_FIELDS = {
    "subject": ("Mail delivery notice",),
    "auto-submitted": ("auto-replied",),
}
LISTS = "lists.example.org"  # where the outside mailing lists of the workload's list mail are
CACHE_MAX = 200_000  # script results kept (per template and what it read) before the cache starts again

DELIVERED = STATE_CODE["delivered"]
DISCARDED = STATE_CODE["discarded"]
REDIRECTED = STATE_CODE["redirected"]


class Filters:
    """The scripts of the mailboxes and what running them does; one per run, shared by the stores (a
    primary and its replica run the same scripts, which sync_client replicates with the mailboxes)."""

    name = "sieve"

    def __init__(self, ctx, spec):
        self.ledger = ctx.ledger
        self.mailboxes = ctx.mailboxes
        self.domains = ctx.domains
        self.domain = ctx.mailboxes.domain
        spam = ctx.scenario.policies.spam
        self.tag_sure, self.tag_maybe = spam.tag_sure, spam.tag_maybe
        self.reply_size = int(spec.reply_size)
        self.templates = spec.scripts
        self.scripts = [
            compile_script(t.text, t.file or f"script {i + 1}") for i, t in enumerate(spec.scripts)
        ]
        self.folders = [tuple(t.folders) for t in spec.scripts]
        self.memory = VacationMemory()
        # what each template reads: its header names, whether it tests the size, the envelope
        self._reads = [
            (
                tuple(sorted(n for n in c.reads if not n.startswith(":"))),
                ":size" in c.reads,
                ":envelope" in c.reads,
            )
            for c in self.scripts
        ]
        self._results: dict[tuple, object] = {}  # the script's result, by template and what it read
        self._verdicts: dict[tuple, tuple] = {}  # and what it means for the row (``_verdict``)
        self._redirect_rng = ctx.streams.generator("sieve.redirect")
        self._targets: dict[tuple[int, str], tuple[int, int]] = {}  # (mailbox, address) -> (route, box)
        self._resent: set[int] = set()  # the copies redirects sent on (message ids): not redirected again
        ledger = ctx.ledger
        self._stage = {
            "filed": ledger.stages.code("sieve"),
            "syntax": ledger.stages.code("sieve: syntax error, kept in INBOX"),
            "failed": ledger.stages.code("sieve: failed, kept in INBOX"),
            "discard": ledger.stages.code("sieve discard"),
            "redirect": ledger.stages.code("sieve redirect"),
        }
        self._redirect_class = ledger.classes.code("redirect")
        self._origin = ledger.origins.code(self.name)
        n = len(self.scripts)
        self.counts = {
            "runs": [0] * n,
            "delivered": [0] * n,
            "discarded": [0] * n,
            "redirected": [0] * n,
            "failed": [0] * n,
            "redirects_sent": [0] * n,
            "vacation_sent": [0] * n,
        }
        self.folder_counts: dict[str, int] = {}
        self.vacation_suppressed: dict[str, int] = {}

    # -- at delivery ---------------------------------------------------------------------------------------

    def run(self, msg, r: int, box: int, script: int, now: float, client) -> tuple[int, int, bool]:
        """Run mailbox ``box``'s script ``script`` on ``msg`` for its recipient row ``r`` (the store has
        taken the message); send what it sends through ``client`` (the frontend). Returns the row's
        (state, stage) and whether the message is stored in the mailbox. The row's folder is written here."""
        counts = self.counts
        counts["runs"][script] += 1
        compiled = self.scripts[script]
        if not compiled.ok:  # Cyrus does not run a script that does not compile: INBOX (seed §3.2)
            counts["delivered"][script] += 1
            counts["failed"][script] += 1
            self.folder_counts[INBOX] = self.folder_counts.get(INBOX, 0) + 1
            return DELIVERED, self._stage["syntax"], True
        # The script's result depends on what it reads alone (``Script.reads``); a delivery without a
        # vacation action depends on nothing else: both are kept by template and what it read.
        names, size, envelope = self._reads[script]
        key = (
            script,
            *[self.field(n, msg, box) for n in names],
            msg.size if size else None,
            (self.sender_address(msg), box) if envelope else None,
        )
        verdict = self._verdicts.get(key)
        if verdict is None:
            message = self.message(msg, box)
            result = self._results.get(key)
            if result is None:
                if len(self._results) >= CACHE_MAX:
                    self._results.clear()
                    self._verdicts.clear()
                result = self._results[key] = compiled.run(message)
            outcome = deliver(result, message, self.folders[script], self.memory, now)
            verdict = self._verdict(outcome)
            if outcome.vacation is None:
                self._verdicts[key] = verdict
            elif outcome.vacation["sent"]:
                counts["vacation_sent"][script] += 1
                self._vacation(msg, client)
            else:
                reason = outcome.vacation["reason"]
                self.vacation_suppressed[reason] = self.vacation_suppressed.get(reason, 0) + 1
        state, stage, folder, code, outcome_name, redirected = verdict
        counts[outcome_name][script] += 1
        if redirected and msg.id not in self._resent:
            for address in redirected:
                counts["redirects_sent"][script] += 1
                self._redirect(msg, box, address, now, client)
        if folder is not None:
            self.folder_counts[folder] += 1
            if outcome_name == "failed":
                counts["delivered"][script] += 1
            elif code:
                self.ledger.set_rows("folder", (r,), code)
        return state, stage, folder is not None

    def _verdict(self, outcome) -> tuple:
        """What a delivery's outcome means for the row: (state, stage, folder or None, its ledger code,
        the count it goes into, addresses redirected to)."""
        redirected = tuple(outcome.redirected)
        if outcome.stored:
            folder = outcome.stored[0]
            self.folder_counts.setdefault(folder, 0)
            if outcome.errors:
                return DELIVERED, self._stage["failed"], folder, 0, "failed", redirected
            code = self.ledger.folders.code(folder)
            return DELIVERED, self._stage["filed"], folder, code, "delivered", redirected
        if outcome.discarded:
            return DISCARDED, self._stage["discard"], None, 0, "discarded", redirected
        return REDIRECTED, self._stage["redirect"], None, 0, "redirected", redirected

    def message(self, msg, box: int) -> SieveMessage:
        """What the script sees of ``msg`` arriving for mailbox ``box``: the header fields of ``FIELDS``
        it has (``field``), its size and its envelope."""
        fields = {n: list(v) for n in FIELDS if (v := self.field(n, msg, box))}
        return SieveMessage.plain(fields, msg.size, self.sender_address(msg), f"u{box}@{self.domain}")

    def field(self, name: str, msg, box: int) -> tuple[str, ...]:
        """The values of header field ``name`` (lower case) of ``msg`` as mailbox ``box`` gets it: what its
        header code names (``sim/headers.py``), and the scan's spam headers and subject tag (seed §3.1
        steps 6 and 8: ``X-PerlMx-Spam``, ``X-IMT-Spam-Score``, ``{SPAM!}``/``{SPAM?}``). The platform's
        own bounces, warnings and notices come from MAILER-DAEMON, auto-replied."""
        h, domain = msg.headers, self.domain
        if h == GENERATED:
            if name == "from":
                return (f"MAILER-DAEMON@{domain}",)
            return (f"u{box}@{domain}",) if name == "to" else GENERATED_FIELDS.get(name, ())
        if name == "from":
            return (self.sender_address(msg),)
        if name == "to":
            if h & LIST:
                return (f"list{h >> SHIFT}@{LISTS}",)
            return () if h & BCC else (f"u{box}@{domain}",)
        if name == "list-id":
            return (f"<list{h >> SHIFT}.{LISTS}>",) if h & LIST else ()
        if name == "precedence":
            return ("bulk",) if h & BULK else ("list",) if h & LIST else ()
        if name == "auto-submitted":
            return ("auto-generated",) if h & AUTO else ()
        spam = msg.spam if isinstance(msg, Mail) else -1
        if name == "subject":
            if spam >= 0 and spam >= self.tag_sure:
                return ("{SPAM!} Message",)
            return ("{SPAM?} Message",) if spam >= 0 and spam >= self.tag_maybe else ("Message",)
        if spam < 0:
            return ()
        if name == "x-imt-spam-score":
            return (str(spam),)
        if name == "x-perlmx-spam":
            return (f"Gauge={'X' * (spam // 10)}{'I' * (spam % 10)}, Probability={spam}%, Report=''",)
        return ()

    def sender_address(self, msg) -> str:
        """The envelope sender of ``msg``: a local user, a downstream system behind the relay, or one of
        its class's outside senders (or lists) at a remote domain; ``""`` for ``<>``."""
        if msg.headers == GENERATED:
            return ""
        if msg.sender >= 0:
            return f"u{msg.sender}@{self.domain}"
        if msg.sender == SYSTEM:
            return f"system@relay.{self.domain}"
        who = msg.headers >> SHIFT
        if msg.headers & LIST:
            return f"list{who}-bounces@{LISTS}"
        return f"s{who}@{self.domains.name(who % self.domains.count)}"

    # -- what a script sends -------------------------------------------------------------------------------

    def _vacation(self, msg, client) -> None:
        """A reply from <> to the envelope sender (RFC 5230 §5.1): to the sender's own domain."""
        who = msg.headers >> SHIFT
        domain = who % self.domains.count if msg.sender < 0 and msg.sender != SYSTEM else -1
        client.reply(msg, "vacation", self.reply_size, domain)

    def _redirect(self, msg, box: int, address: str, now: float, client) -> None:
        """A copy of ``msg`` to ``address`` with the original's envelope sender, accepted onto the spool
        of ``client`` and routed there."""
        route, target = self._target(box, address)
        ledger = self.ledger
        boxes = [target]
        mid, r0 = ledger.offer(
            1, now, self._redirect_class, self._origin, msg.size, parent=msg.id, mailboxes=boxes
        )
        ledger.accept(r0, 1, now)
        spam = msg.spam if isinstance(msg, Mail) else -1
        copy = Mail(mid, r0, 1, msg.size, boxes, False, False, spam, False, 0, msg.headers)
        copy.sender = msg.sender
        self._resent.add(mid)
        copy.domains = [route]
        client.route(copy, [r0], null_sender=msg.headers == GENERATED, run=True)

    def _target(self, box: int, address: str) -> tuple[int, int]:
        """Where ``address`` (a redirect's target, written in mailbox ``box``'s script) is: (route, mailbox).
        The local domain: another mailbox, fixed per user; a remote domain by name: that domain; any other
        domain: one drawn by popularity once per user and address."""
        key = (box, address)
        found = self._targets.get(key)
        if found is None:
            parts = split_address(address)
            domain = parts[1].lower() if parts else ""
            if domain == self.domain.lower():
                n = self.mailboxes.count
                found = (LOCAL, (box * 2654435761 + 1) % n)
            else:
                names = [x.lower() for x in (self.domains.spec.names or ())]
                if domain in names:
                    d = names.index(domain)
                else:
                    d = int(self.domains.pick(self._redirect_rng, 1)[0])
                found = (d, -1)
            self._targets[key] = found
        return found

    # -- what the run reports ------------------------------------------------------------------------------

    def results(self) -> dict[str, dict]:
        """The ``sieve`` block of kpis.json: per template, and in all."""
        per_script = []
        for i, t in enumerate(self.templates):
            per_script.append(
                {
                    "script": t.file or f"script {i + 1}",
                    "compiles": self.scripts[i].ok,
                    "mailboxes": sum(s == i for s in self.mailboxes.script_of or ()),
                    **{k: v[i] for k, v in self.counts.items()},
                }
            )
        totals = {k: int(np.sum(v)) for k, v in self.counts.items()}
        return {
            "sieve": {
                **totals,
                "folders": dict(sorted(self.folder_counts.items())),
                "vacation_suppressed": dict(sorted(self.vacation_suppressed.items())),
                "scripts": per_script,
            }
        }
