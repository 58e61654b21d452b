"""The ledger as a Parquet file: written in row groups straight from the ledger's final pass (one chunk of
the ledger at a time, so the whole ledger is never in memory), read back as a DataFrame whose string
columns are categoricals."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from twin.io import atomic_path
from twin.scenario.schema import STATES
from twin.sim.ledger import COLUMNS, Ledger

# Columns stored as codes into a vocabulary: Parquet dictionary columns, categoricals in pandas.
VOCABULARIES = {
    "traffic_class": lambda ledger: ledger.classes.names,
    "origin": lambda ledger: ledger.origins.names,
    "state": lambda ledger: list(STATES),
    "stage": lambda ledger: ledger.stages.names,
    "node": lambda ledger: ledger.nodes.names,
    "folder": lambda ledger: ledger.folders.names,
}
DELIVERED = STATES.index("delivered")


def write_ledger(
    ledger: Ledger, path: str | Path, also: Iterable[Callable[[dict[str, np.ndarray]], None]] = ()
) -> int:
    """Write every row of ``ledger`` to ``path`` (atomically), one row group per block of
    ``Ledger.blocks``; each block is also handed to the callables in ``also`` (the KPI tally). Returns
    the number of rows."""
    dictionaries = {k: pa.array(f(ledger), type=pa.string()) for k, f in VOCABULARIES.items()}
    fields = [
        pa.field(k, pa.dictionary(pa.int32(), pa.string()) if k in dictionaries else pa.from_numpy_dtype(t))
        for k, t in COLUMNS.items()
    ]
    schema = pa.schema(fields)
    rows = 0
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for block in ledger.blocks():
            for f in also:
                f(block)
            undelivered = block["state"] != DELIVERED  # a folder only where the message is in a mailbox
            arrays = [
                pa.DictionaryArray.from_arrays(
                    pa.array(block[k].astype(np.int32), mask=undelivered if k == "folder" else None),
                    dictionaries[k],
                )
                if k in dictionaries
                else pa.array(block[k])
                for k in COLUMNS
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            rows += len(block["msg_id"])
        if not rows:
            writer.write_table(schema.empty_table())
    return rows


def read_ledger(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """The ledger file as a DataFrame (all columns, or ``columns``)."""
    return pd.read_parquet(path, columns=columns)
