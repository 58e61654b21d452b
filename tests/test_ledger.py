"""The columnar ledger: chunks, retirement to the spill with stray rows, the final pass, the Parquet file."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.parquet import read_ledger, write_ledger
from twin.sim.ledger import CHUNK, COLUMNS, ROW_BYTES, STATE_CODE, Ledger, fingerprint

REJECTED, DELIVERED = STATE_CODE["rejected"], STATE_CODE["delivered"]


def names(led: Ledger, k: int) -> None:
    for i in range(k):
        led.stages.code(f"stage{i}")
        led.nodes.code(f"node{i}")
        led.classes.code(f"class{i}")
        led.origins.code(f"origin{i}")


def columns(led: Ledger) -> dict[str, np.ndarray]:
    parts = [{k: v.copy() for k, v in b.items()} for b in led.blocks()]
    return {k: np.concatenate([p[k] for p in parts] or [np.zeros(0, t)]) for k, t in COLUMNS.items()}


def test_rows_cross_chunks_and_keep_their_values():
    led = Ledger()
    names(led, 1)
    counts = np.full(CHUNK // 2 + 7, 3)  # 1.5 chunks of rows and a bit, in one step
    led.offer_many(
        counts, np.arange(len(counts), dtype=float), counts * 0, 0, counts * 10, np.arange(3 * len(counts))
    )
    rows = [led.offer(3, 1e6, 0, 0, 100 + i)[1] for i in range(10)]
    df = led.to_frame()
    assert led.n == len(df) == 3 * len(counts) + 30 and rows[-1] == led.n - 3
    assert list(df["msg_id"][::3]) == list(range(len(counts) + 10))
    assert (df["mailbox"][: 3 * len(counts)] == np.arange(3 * len(counts))).all()
    assert (df["state"] == "pending").all() and (df["parent_id"] == -1).all() and df["t_final"].isna().all()


def test_finishing_a_row_twice_is_counted_as_a_violation():
    led = Ledger()
    _, r0 = led.offer(2, 0.0, 0, 0, 10)
    led.finish(r0, 2, 5.0, DELIVERED, 0, 0)
    assert led.double_final == 0
    led.finish(r0 + 1, 1, 6.0, STATE_CODE["bounced"], 0, 0)
    assert led.double_final == 1


def test_a_row_costs_well_under_100_bytes():
    assert ROW_BYTES == sum(np.dtype(t).itemsize for t in COLUMNS.values()) == 60


def test_frame_has_named_categories():
    led = Ledger()
    led.classes.code("inbound")
    led.origins.code("src")
    _, r0 = led.offer(1, 1.0, 0, 0, 10)
    led.finish(r0, 1, 2.0, REJECTED, led.stages.code("frontend"), led.nodes.code("fe1"))
    row = led.to_frame().iloc[0]
    assert (row["state"], row["stage"], row["node"], row["traffic_class"]) == (
        "rejected",
        "frontend",
        "fe1",
        "inbound",
    )


def test_finish_later_writes_on_flush_and_still_catches_double_final_states():
    led = Ledger()
    _, r0 = led.offer(3, 0.0, 0, 0, 10)
    _, r1 = led.offer(1, 1.0, 0, 0, 10)
    led.finish_later(r0, 3, 2.0, REJECTED, 4, 5)
    led.finish_later(r1, 1, 3.0, REJECTED, 6, 7)
    assert led.state_of(r0) == REJECTED  # readers flush first
    block = next(led.blocks())
    assert list(block["t_final"]) == [2.0, 2.0, 2.0, 3.0]
    assert list(block["stage"]) == [4, 4, 4, 6] and list(block["node"]) == [5, 5, 5, 7]
    assert led.double_final == 0
    led.finish_later(r0 + 1, 1, 4.0, REJECTED, 4, 5)  # finished before
    led.finish_later(r1, 1, 4.0, REJECTED, 4, 5)
    led.finish_later(r1, 1, 4.0, REJECTED, 4, 5)  # and twice in one batch
    led.flush()
    assert led.double_final == 3


def test_retired_chunks_leave_only_their_pending_rows_in_memory():
    led = Ledger()
    names(led, 4)
    n = 3 * CHUNK + 100
    led.offer_many(np.ones(n, dtype=np.int64), np.arange(n) / 1000, np.zeros(n), 0, np.ones(n), np.zeros(n))
    for r in range(n):
        if r % 1000:  # one row in a thousand stays pending
            led.finish_later(r, 1, r / 1000 + 1, REJECTED, 1, 1)
    assert led.retire(before=1e9) == 3  # the complete chunks; the last, partial one stays
    assert led.rows_in_memory == CHUNK + len(range(0, 3 * CHUNK, 1000))
    led.finish(2000, 1, 5000.0, DELIVERED, 2, 2)  # a stray row still changes
    led.locate(3000, 1, 3, 3)
    df = led.to_frame()
    assert len(df) == n and (df["state"] == "pending").sum() == len(range(0, n, 1000)) - 1
    assert df.loc[2000, "state"] == "delivered" and df.loc[2000, "t_final"] == 5000.0
    assert df["node"].cat.codes[3000] == 3 and not led.holds(2001) and led.holds(3000)
    led.close()
    assert led.rows_in_memory == 0


def test_a_final_row_written_off_changes_state_in_memory_and_on_the_spill():
    # Delivered mail whose only copy was lost (a store's loss) becomes lost: a correction, not a second
    # terminal state, also for rows whose chunk is already on the spill.
    led = Ledger()
    names(led, 4)
    n = CHUNK + 10
    led.offer_many(np.ones(n, dtype=np.int64), np.arange(n) / 1000, np.zeros(n), 0, np.ones(n), np.zeros(n))
    for r in range(n):
        led.finish(r, 1, 100.0, DELIVERED, 1, 1)
    assert led.retire(before=1e9) == 1 and not led.holds(5)
    led.write_off([5, 6, CHUNK + 3], 200.0, STATE_CODE["lost"], 2, 3)
    df = led.to_frame()
    assert list(df.loc[[5, 6, CHUNK + 3], "state"]) == ["lost"] * 3
    assert (df.loc[[5, 6, CHUNK + 3], "t_final"] == 200.0).all()
    assert df.loc[7, "state"] == "delivered" and (df["state"] == "lost").sum() == 3
    assert led.double_final == 0
    led.close()


@st.composite
def operations(draw):
    ops = []
    for _ in range(draw(st.integers(1, 40))):
        ops.append(
            draw(
                st.one_of(
                    st.tuples(st.just("offer"), st.integers(1, 5)),
                    st.tuples(st.just("many"), st.integers(1, 20_000)),
                    st.tuples(st.just("finish"), st.floats(0, 1), st.integers(1, 4)),
                    st.tuples(st.just("later"), st.floats(0, 1)),
                    st.tuples(st.just("locate"), st.floats(0, 1), st.integers(1, 4)),
                    st.tuples(st.just("retire"), st.floats(0, 1)),
                )
            )
        )
    return ops


@settings(max_examples=30, deadline=None)
@given(ops=operations())
def test_a_ledger_that_retires_holds_exactly_what_one_that_never_does_holds(ops):
    keep, spill = Ledger(), Ledger()
    spill.settle_at = 1  # settle final strays on the spill as soon as they are half of them
    for led in (keep, spill):
        names(led, 5)
    now = 0.0
    final: set[int] = set()
    for op in ops:
        if op[0] == "offer":
            for led in (keep, spill):
                led.offer(op[1], now, 0, 0, 10, parent=3, mailboxes=list(range(op[1])))
        elif op[0] == "many":
            k = op[1]
            args = (np.full(k, 2), now + np.arange(k) / k, np.ones(k), 0, np.ones(k), np.arange(2 * k))
            for led in (keep, spill):
                led.offer_many(*args)
        elif keep.n and op[0] in ("finish", "later", "locate"):
            r = min(int(op[1] * keep.n), keep.n - 1)
            if r in final:
                continue  # finished: the model never touches such a row again; a pending one, any time
            assert spill.holds(r)
            if op[0] == "locate":
                for led in (keep, spill):
                    led.locate(r, 1, op[2], op[2])
            else:
                final.add(r)
                for led in (keep, spill):
                    if op[0] == "finish":
                        led.finish(r, 1, now, DELIVERED, op[2], op[2])
                    else:
                        led.finish_later(r, 1, now, REJECTED, 1, 1)
        elif op[0] == "retire":
            spill.retire(before=now * op[1])
        now += 1.0
    a, b = columns(keep), columns(spill)
    for k in COLUMNS:
        assert np.array_equal(a[k], b[k], equal_nan=k.startswith("t_")), k
    assert keep.double_final == spill.double_final == 0


def test_the_parquet_file_holds_the_ledger_with_named_categories(tmp_path):
    led = Ledger()
    led.classes.code("inbound")
    led.origins.code("src")
    n = CHUNK + 10
    led.offer_many(
        np.ones(n, dtype=np.int64), np.arange(n, dtype=float), np.zeros(n), 0, np.full(n, 7), np.zeros(n)
    )
    led.finish(5, 1, 9.0, DELIVERED, led.stages.code("store"), led.nodes.code("store"))
    expected = led.to_frame()
    seen = []
    rows = write_ledger(led, tmp_path / "ledger.parquet", also=[lambda b: seen.append(len(b["msg_id"]))])
    assert rows == n and seen == [CHUNK, 10]  # one row group per chunk, handed to the tally as well
    got = read_ledger(tmp_path / "ledger.parquet")
    assert fingerprint(got) == fingerprint(expected)
    assert isinstance(got["state"].dtype, pd.CategoricalDtype) and got.loc[5, "stage"] == "store"
    assert got["size"].dtype == np.int64 and (got["state"] == "pending").sum() == n - 1


def test_sizes_of_2_gib_and_more_and_many_attempts_do_not_wrap():
    led = Ledger()
    led.classes.code("inbound")
    led.origins.code("src")
    big = 3 * 2**30
    _, r0 = led.offer(1, 1.0, 0, 0, big)
    for _ in range(70_000):  # more than a 16-bit counter holds
        led.attempt(r0, 1)
    frame = led.to_frame()
    assert frame.loc[r0, "size"] == big and frame.loc[r0, "attempts"] == 70_000
