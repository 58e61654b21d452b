"""The users' spam quarantine (seed §3.1 step 7; docs/inbound.md, "The quarantine as users see it").

A recipient who enabled the quarantine gets mail with a spam probability from ``quarantine_at`` (50 %)
sorted into it instead of the mailbox. Once a day, at ``policies.quarantine.digest_at`` local time, every
user whose quarantine got new mail since the last digest is sent a digest listing it (a message from the
quarantine, through a frontend, into the mailbox by LMTP: traffic class ``quarantine_digest``, its parent
the newest message it lists). From the digest some users ask for messages to be delivered after all: a
share ``release_users`` of the users do, for a share ``release_share`` of what their digest lists, a
``release_delay`` after it. A released message goes to a frontend's spool and into the mailbox like any
local delivery; its row ends ``delivered`` at stage ``quarantine release``. Quarantined mail is kept
``retention`` long; the KPIs give what the quarantine held over time.

Whether a user releases a message depends on nothing the simulation does after the message was
quarantined, so it is drawn when the message comes in: a message that will be released stays pending in
the quarantine (stage ``quarantine``) until then, and any other ends ``quarantined`` at once.

Left out: the digest's own request mechanism (a web link to the central server) and its load; a
quarantine whose central server is down still takes mail and sends digests.
"""

from __future__ import annotations

from collections.abc import Generator

from twin.sim.calendar import daily
from twin.sim.flow import Mail, Message, Released
from twin.sim.ledger import STATE_CODE

QUARANTINED = STATE_CODE["quarantined"]
DAY = 86400.0


class Quarantine:
    """The quarantine behind the frontends' SMTP service (``SmtpService.quarantine``)."""

    def __init__(self, ctx, frontends):
        spec = ctx.scenario.policies.quarantine
        self.spec = spec
        self.env = ctx.env
        self.ledger = ctx.ledger
        self.frontends = frontends
        self.end = ctx.end
        self.clock = ctx.scenario.clock
        boxes = ctx.mailboxes
        users = ctx.streams.generator("quarantine.users")
        self.releasing = (users.random(boxes.count) < spec.release_users).tolist() if boxes.count else []
        self._choice = ctx.streams.generator("quarantine.release")
        self._u: list[float] = []
        self._delay = ctx.streams.sampler("quarantine.release_delay", spec.release_delay)
        self._listed: dict[int, list[int]] = {}  # mailbox -> [messages, bytes, newest message id] to digest
        self._waiting: list[tuple[int, Mail, int, int]] = []  # (row, message, mailbox, day) to release
        self._days: dict[int, list[int]] = {}  # day it came in -> [messages, bytes] still kept
        ledger = ctx.ledger
        self._stage = ledger.stages.code("quarantine")
        self._digest_class = ledger.classes.code("quarantine_digest")
        self._origin = ledger.origins.code("quarantine")
        self.counts = dict.fromkeys(
            ("held", "to_release", "released", "digests_sent", "digest_bytes", "expired", "retries"), 0
        )
        self.held_now = 0  # messages in the quarantine now
        self.bytes_now = 0
        self.peak_bytes = 0
        if boxes.count and boxes.spec.quarantine > 0:  # someone enabled it: digests every day
            self.env.process(self._daily())

    # -- mail comes in -------------------------------------------------------------------------------------

    def hold(self, mail: Mail, rows: list[int], now: float, fe) -> None:
        """Stage 7: ``rows`` of ``mail`` (recipients who enabled the quarantine) go into it at ``now``."""
        boxes, r0, size, mid = mail.boxes, mail.r0, mail.size, mail.id
        releasing, share, listed_by_box = self.releasing, self.spec.release_share, self._listed
        day = int(now // DAY)
        final, waiting = [], []
        for r in rows:
            box = boxes[r - r0]
            listed = listed_by_box.get(box)
            if listed is None:
                listed_by_box[box] = [1, size, mid]
            else:
                listed[0] += 1
                listed[1] += size
                listed[2] = mid
            if releasing[box] and self._uniform() < share:
                self._waiting.append((r, mail, box, day))
                waiting.append(r)
            else:
                final.append(r)
        n = len(rows)
        kept = self._days.get(day)
        if kept is None:
            self._days[day] = [n, n * size]
        else:
            kept[0] += n
            kept[1] += n * size
        self.counts["held"] += n
        self.held_now += n
        self.bytes_now += n * size
        if self.bytes_now > self.peak_bytes:
            self.peak_bytes = self.bytes_now
        if final:
            self.ledger.finish_rows(final, now, QUARANTINED, self._stage, fe.code)
        if waiting:
            self.counts["to_release"] += len(waiting)
            self.ledger.locate_rows(waiting, fe.code, self._stage)

    def _uniform(self) -> float:
        if not self._u:
            self._u = self._choice.random(4096).tolist()[::-1]
        return self._u.pop()

    # -- once a day --------------------------------------------------------------------------------------

    def digest_times(self) -> Generator[float, None, None]:
        """The simulated times of the digests: ``digest_at`` local time each day, until the end of the run."""
        return daily(self.clock, self.spec.digest_at, self.end)

    def _daily(self):
        env = self.env
        for t in self.digest_times():
            if t > env.now:
                yield env.timeout(t - env.now)
            self._expire(env.now)
            self._send_digests()
            waiting, self._waiting = self._waiting, []
            for item in waiting:
                env.process(self._release(item, float(self._delay())))

    def _send_digests(self) -> None:
        spec, ledger, now = self.spec, self.ledger, self.env.now
        listed, self._listed = self._listed, {}
        for box, (count, _, newest) in listed.items():
            fe = self.frontends.connect()
            if fe is None:  # no frontend takes it: the digest waits for the next day, with the next one's
                self.counts["retries"] += 1
                old = self._listed.setdefault(box, [0, 0, newest])
                old[0] += count
                continue
            size = int(spec.digest_size + count * spec.digest_entry)
            mid, r0 = ledger.offer(
                1, now, self._digest_class, self._origin, size, parent=newest, mailboxes=[box]
            )
            ledger.accept(r0, 1, now)
            fe.enqueue(Message(mid, r0, 1, size, [box]), fe.local, null_sender=True)
            self.counts["digests_sent"] += 1
            self.counts["digest_bytes"] += size

    def _release(self, item: tuple[int, Mail, int, int], delay: float):
        """The user asks for the message of row ``r``: the quarantine hands it to a frontend (with none up,
        it tries again every ``retry``)."""
        r, mail, box, day = item
        env = self.env
        yield env.timeout(delay)
        while True:
            fe = self.frontends.connect()
            if fe is not None:
                break
            self.counts["retries"] += 1
            yield env.timeout(self.spec.retry)
        copy = Released(mail.id, r, 1, mail.size, [box], False, False, mail.spam, False, "", mail.headers)
        copy.sender = mail.sender
        fe.enqueue(copy, fe.local, rows=[r])
        self.counts["released"] += 1
        self._leave(day, mail.size)

    def _leave(self, day: int, size: int) -> None:
        kept = self._days.get(day)
        if kept is not None:
            kept[0] -= 1
            kept[1] -= size
        self.held_now -= 1
        self.bytes_now -= size

    def _expire(self, now: float) -> None:
        """Mail kept longer than ``retention`` is deleted (whole days at a time)."""
        last = int((now - self.spec.retention) // DAY)
        for day in [d for d in self._days if d < last]:
            count, size = self._days.pop(day)
            self.counts["expired"] += count
            self.held_now -= count
            self.bytes_now -= size

    def results(self) -> dict:
        return {
            **self.counts,
            "in_quarantine_at_end": self.held_now,
            "bytes_at_end": self.bytes_now,
            "peak_bytes": self.peak_bytes,
        }
