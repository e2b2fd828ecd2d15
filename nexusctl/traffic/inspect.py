"""``nexusctl traffic inspect``: check a canonical traffic file, then summarise it with DuckDB.

Inspect refuses an invalid file (exit 3) rather than summarise it: the footer is checked
against the read caps first (``nexusctl.traffic.parquet``), then every batch against the rules
every reader applies (``schema.require_valid``), and ``request_id`` must be unique; the
problems are listed like the importer's. Only then does DuckDB summarise the file.

Every query is parameterised (the file path is a bound parameter, never spliced into SQL)
and every query whose rows feed the output has an ORDER BY, so the summary is deterministic.
Quantiles are ``quantile_disc`` (an actual value of the column, no interpolation).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from nexusctl.errors import EnvironmentError_, TrafficError
from nexusctl.traffic.parquet import ReadLimits
from nexusctl.traffic.schema import (
    BASE_COLUMNS,
    REQUEST_ATTRIBUTES,
    TOKEN_COLUMNS,
    TRAFFIC,
    UNREPORTABLE_TOKENS,
)

MIX_COLUMNS = (*REQUEST_ATTRIBUTES, "observed_model")
TOP = 10
QUANTILES = (0.5, 0.95, 0.99)


def inspect_traffic(path: Path, top: int = TOP, limits: ReadLimits | None = None) -> dict[str, Any]:
    """Check the traffic file at ``path`` and return a JSON-ready summary of it.

    Raises:
        TrafficError: not a readable canonical traffic Parquet file, over the read caps,
            empty, or holding invalid rows (each listed with its row and column).
        EnvironmentError_: DuckDB failed for another reason.
    """
    import tempfile

    import duckdb

    metadata = check_traffic_file(path, limits)
    # What DuckDB spills goes to a private folder, not `.tmp` in the working directory.
    with tempfile.TemporaryDirectory(prefix="nexusctl-duckdb-") as spill:
        con = duckdb.connect(config={"temp_directory": spill})
        try:
            _check_unique(con, str(path))
            return _summary(con, str(path), metadata, top)
        except duckdb.InvalidInputException as exc:
            raise TrafficError(f"{path}: not a readable Parquet file ({exc})") from None
        except duckdb.BinderException as exc:
            raise TrafficError(f"{path}: not a canonical traffic file ({exc})") from None
        except duckdb.Error as exc:
            raise EnvironmentError_(f"{path}: DuckDB failed: {exc}") from None
        finally:
            con.close()


def check_traffic_file(path: Path, limits: ReadLimits | None = None) -> dict[str, Any] | None:
    """Refuse a traffic file that breaks the contract; return its metadata record.

    Raises:
        TrafficError: as ``inspect_traffic`` (uniqueness is checked there, with DuckDB).
    """
    from nexusctl.traffic.parquet import file_metadata, open_traffic_parquet, traffic_batches
    from nexusctl.traffic.schema import require_valid

    parquet = open_traffic_parquet(path, limits)
    errors = TRAFFIC.schema_errors(parquet.schema_arrow, need=BASE_COLUMNS)
    if errors:
        raise TrafficError(f"{path}: not a canonical traffic file: " + "; ".join(errors))
    metadata = file_metadata(parquet, str(path))
    offset = 0
    for batch in traffic_batches(parquet, str(path)):
        require_valid(batch, offset, str(path))
        offset += batch.num_rows
    return metadata


def _check_unique(con: Any, path: str) -> None:
    repeated = con.execute(
        "SELECT request_id, count(*) AS n, min(file_row_number) + 1 AS first "
        "FROM read_parquet(?, file_row_number = true) GROUP BY request_id HAVING count(*) > 1 "
        "ORDER BY first LIMIT 5",
        [path],
    ).fetchall()
    if repeated:
        shown = "; ".join(f"{rid!r} {n} times (first at row {first})" for rid, n, first in repeated)
        raise TrafficError(f"{path}: request_id is not unique: {shown}")


def _summary(con: Any, path: str, metadata: Any, top: int) -> dict[str, Any]:
    rows, first_ms, last_ms = con.execute(
        "SELECT count(*), epoch_ms(min(time)), epoch_ms(max(time)) FROM read_parquet(?)", [path]
    ).fetchone()
    if rows == 0:
        raise TrafficError(f"{path}: the traffic file has no rows")
    span_ms = int(last_ms - first_ms)
    peak, busiest = con.execute(
        "SELECT count(*) AS n, epoch_ms(time) // 1000 AS second FROM read_parquet(?) "
        "GROUP BY second ORDER BY n DESC, second ASC LIMIT 1",
        [path],
    ).fetchone()
    summary: dict[str, Any] = {
        "file": path,
        "rows": int(rows),
        "time": {
            "first": _iso(first_ms),
            "last": _iso(last_ms),
            "span_seconds": span_ms / 1000.0,
        },
        "arrival_rate_per_s": {
            "mean": round(rows / max(span_ms / 1000.0, 1.0), 3),
            "peak": int(peak),
            "peak_second": _iso(int(busiest) * 1000),
        },
        "tokens": {name: _distribution(con, path, name) for name in TOKEN_COLUMNS},
        "complexity": _scores(con, path, "complexity"),
        "confidence": _scores(con, path, "confidence"),
        "mix": {name: _top_values(con, path, name, top) for name in MIX_COLUMNS},
        "capabilities": _capabilities(con, path),
        "quality": _quality(con, path),
        "observed": _observed(con, path),
        "unreported_tokens": _unreported(con, path, int(rows)),
        "metadata": metadata,
    }
    return summary


def _iso(epoch_ms: int) -> str:
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000.0, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _distribution(con: Any, path: str, column: str) -> dict[str, Any]:
    # column names come from the fixed TOKEN_COLUMNS tuple, never from input
    p50, p95, p99, top, mean, total = con.execute(
        f"SELECT quantile_disc({column}, 0.5), quantile_disc({column}, 0.95), "  # noqa: S608
        f"quantile_disc({column}, 0.99), max({column}), avg({column}), sum({column}) "
        "FROM read_parquet(?)",
        [path],
    ).fetchone()
    return {
        "p50": int(p50),
        "p95": int(p95),
        "p99": int(p99),
        "max": int(top),
        "mean": round(float(mean), 3),
        "sum": int(total),
    }


def _scores(con: Any, path: str, column: str) -> dict[str, Any]:
    present, p50, p95, below_half = con.execute(
        f"SELECT count({column}), quantile_disc({column}, 0.5), "  # noqa: S608
        f"quantile_disc({column}, 0.95), count(*) FILTER (WHERE {column} < 0.5) "
        "FROM read_parquet(?)",
        [path],
    ).fetchone()
    return {
        "present": int(present),
        "p50": None if p50 is None else round(float(p50), 4),
        "p95": None if p95 is None else round(float(p95), 4),
        "below_0_5": int(below_half),
    }


def _top_values(con: Any, path: str, column: str, top: int) -> dict[str, Any]:
    rows = con.execute(
        f"SELECT {column} AS value, count(*) AS n FROM read_parquet(?) "  # noqa: S608
        "GROUP BY value ORDER BY n DESC, value ASC NULLS LAST",
        [path],
    ).fetchall()
    return {
        "distinct": len(rows),
        "top": [{"value": value, "count": int(n)} for value, n in rows[:top]],
    }


def _capabilities(con: Any, path: str) -> dict[str, Any]:
    rows = con.execute(
        "SELECT capability, count(*) AS n FROM "
        "(SELECT unnest(capabilities) AS capability FROM read_parquet(?)) "
        "GROUP BY capability ORDER BY n DESC, capability ASC",
        [path],
    ).fetchall()
    (none,) = con.execute(
        "SELECT count(*) FROM read_parquet(?) WHERE len(capabilities) = 0", [path]
    ).fetchone()
    return {"rows_with_none": int(none), "top": [{"value": c, "count": int(n)} for c, n in rows]}


def _quality(con: Any, path: str) -> dict[str, Any]:
    small, large, small_ok, large_ok = con.execute(
        "SELECT count(small_model_correct), count(large_model_correct), "
        "count(*) FILTER (WHERE small_model_correct), count(*) FILTER (WHERE large_model_correct) "
        "FROM read_parquet(?)",
        [path],
    ).fetchone()
    return {
        "labelled_small": int(small),
        "labelled_large": int(large),
        "small_accuracy": round(small_ok / small, 4) if small else None,
        "large_accuracy": round(large_ok / large, 4) if large else None,
    }


def _observed(con: Any, path: str) -> dict[str, Any]:
    models, latencies, p50, p95, costs, total = con.execute(
        "SELECT count(observed_model), count(observed_latency_ms), "
        "quantile_disc(observed_latency_ms, 0.5), quantile_disc(observed_latency_ms, 0.95), "
        "count(observed_cost_micro_usd), sum(observed_cost_micro_usd) FROM read_parquet(?)",
        [path],
    ).fetchone()
    return {
        "with_model": int(models),
        "with_latency": int(latencies),
        "latency_ms_p50": None if p50 is None else int(p50),
        "latency_ms_p95": None if p95 is None else int(p95),
        "with_cost": int(costs),
        "cost_micro_usd_total": None if total is None else int(total),
    }


def _unreported(con: Any, path: str, rows: int) -> dict[str, Any]:
    """Per token column: rows whose source did not report it (0 in a file without the flag)."""
    (has_flags,) = con.execute(
        "SELECT count(*) FROM (DESCRIBE SELECT * FROM read_parquet(?)) "
        "WHERE column_name = 'unreported_tokens'",
        [path],
    ).fetchone()
    out: dict[str, Any] = {}
    for name in UNREPORTABLE_TOKENS:
        count = 0
        if has_flags:
            (count,) = con.execute(
                "SELECT count(*) FROM read_parquet(?) WHERE list_contains(unreported_tokens, ?)",
                [path, name],
            ).fetchone()
        out[name] = {"rows": int(count), "share": round(count / rows, 6) if rows else 0.0}
    return out


def render_text(summary: dict[str, Any]) -> str:
    """Render the summary as plain text for a terminal."""
    t = summary["time"]
    rate = summary["arrival_rate_per_s"]
    out = [
        f"{summary['file']}: {summary['rows']:,} requests",
        f"time      {t['first']} .. {t['last']} ({t['span_seconds']:,.1f} s)",
        f"arrivals  mean {rate['mean']:,.2f}/s, peak {rate['peak']:,}/s at {rate['peak_second']}",
        "tokens            p50        p95        p99        max         mean",
    ]
    for name, d in summary["tokens"].items():
        out.append(
            f"  {name:<20}{d['p50']:>8,} {d['p95']:>10,} {d['p99']:>10,} {d['max']:>10,} "
            f"{d['mean']:>12,.1f}"
        )
    c, conf = summary["complexity"], summary["confidence"]
    out.append(
        f"complexity p50 {c['p50']}, p95 {c['p95']}; >= 0.5: {summary['rows'] - c['below_0_5']:,}"
    )
    out.append(f"confidence present {conf['present']:,}, below 0.5: {conf['below_0_5']:,}")
    out.append("mix")
    for name, mix in summary["mix"].items():
        shown = ", ".join(f"{v['value']} {v['count']:,}" for v in mix["top"])
        out.append(f"  {name:<16}({mix['distinct']}) {shown}")
    caps = summary["capabilities"]
    shown = ", ".join(f"{v['value']} {v['count']:,}" for v in caps["top"])
    out.append(f"  {'capabilities':<16}none {caps['rows_with_none']:,}; {shown}")
    q = summary["quality"]
    out.append(
        f"quality   labelled small {q['labelled_small']:,} (accuracy {q['small_accuracy']}), "
        f"large {q['labelled_large']:,} (accuracy {q['large_accuracy']})"
    )
    o = summary["observed"]
    out.append(
        f"observed  model {o['with_model']:,}, latency {o['with_latency']:,} "
        f"(p50 {o['latency_ms_p50']} ms), cost {o['with_cost']:,} "
        f"(total {o['cost_micro_usd_total']} micro-USD)"
    )
    unreported = summary["unreported_tokens"]
    out.append(
        "unreported "
        + ", ".join(
            f"{name} {u['rows']:,} ({u['share']:.1%}, resolved as 0)"
            for name, u in unreported.items()
        )
    )
    meta = summary["metadata"] or {}
    enrichment = meta.get("enrichment") or {}
    quality = meta.get("quality")
    out.append(
        f"source    {meta.get('source')} via {meta.get('importer')}; "
        f"skipped invalid {meta.get('skipped_invalid', 0)}"
    )
    if enrichment:
        out.append(
            f"enriched  by {enrichment.get('file')} (seed {enrichment['spec']['spec']['seed']}, "
            f"sha256 {str(enrichment.get('sha256'))[:12]})"
        )
    if isinstance(quality, dict):
        out.append(
            f"labels    {quality.get('format')} from {quality.get('file')}: "
            f"{quality.get('assignment')}"
        )
    elif quality:
        out.append(f"labels    {quality}")
    return "\n".join(out)
