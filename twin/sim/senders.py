"""The remote MTAs behind a source, and other senders that retry (users' clients, Mailman): whether a
sender retries after a refusal or 4xx, and when.

A legitimate MTA keeps the message in its own queue and retries on its schedule (by default Postfix's
queue manager: the gap doubles from 5 min up to ``maximal_backoff_time`` 4000 s, and the message is given
up after ``maximal_queue_lifetime`` 5 d). Most spam bots never retry. The schedule is written and
computed with Exim's rule machinery (``twin.exim.retry``), with one record per message.
"""

from __future__ import annotations

import math

from twin.exim.retry import RetryDatabase, RetryLine, parse_rules
from twin.scenario.distributions import batched


class RemoteSenders:
    def __init__(self, streams, name: str, spec):
        self.share = spec.retrying_share
        self.db = RetryDatabase(
            RetryLine("*", "*", parse_rules(spec.retry)),
            retry_interval_max=spec.retry_interval_max,
            retry_data_expire=math.inf,
            rng=streams.generator(f"workload.{name}.sender.retry"),
        )
        self._u = batched(streams.generator(f"workload.{name}.sender.retrying").random)

    def will_retry(self) -> bool:
        """Drawn once per message, at its first refusal."""
        return self.share >= 1.0 or (self.share > 0.0 and self._u() < self.share)
