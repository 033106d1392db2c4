"""Check gradients logged to Parquet shards on a Dask cluster: each partition is checked where it lives
(``softgrad.check_frame`` in ``map_partitions``) and the reports are merged into the report of all rows.

pip install 'softgrad[dask]'
python samples/batch/dask_recipe.py 'logs/*.parquet' 256      # the shards, the batch size they were logged with
"""

from __future__ import annotations

import functools
import sys

import dask.dataframe as dd
import numpy as np
import pandas as pd

import softgrad


def check_parquet(pattern: str, batch_size: int | None = None, **options: object) -> softgrad.BatchReport:
    """The report of every row of the Parquet files ``pattern`` names, checked partition by partition.
    With ``batch_size``, each partition must hold whole batches (shards written batch by batch do)."""
    ddf = dd.read_parquet(pattern)
    lengths = ddf.map_partitions(len).compute()  # to number the rows as one file would
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))

    def check(part: pd.DataFrame, partition_info: dict[str, int] | None = None) -> pd.Series:
        number = 0 if partition_info is None else partition_info["number"]
        first_row = int(offsets[number]) + 1
        report = softgrad.check_frame(part, source=pattern, first_row=first_row, batch_size=batch_size, **options)
        return pd.Series([report])

    reports = ddf.map_partitions(check, meta=(None, "object")).compute()
    return functools.reduce(softgrad.BatchReport.merge, reports)


if __name__ == "__main__":
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster):
        size = int(sys.argv[2]) if len(sys.argv) > 2 else None
        print(check_parquet(sys.argv[1], size))
