"""Apply an enrichment spec to columns: vectorised NumPy draws, one stream per attribute.

The spec's models live in ``nexusctl.traffic.enrich`` (which imports nothing from here), the
draws here: the import pipeline calls ``enrich_columns`` once per chunk of rows.
"""

from __future__ import annotations

from typing import Any

from nexusctl.traffic.enrich import (
    ATTRIBUTE_ORDER,
    CapabilityAttribute,
    CategoryAttribute,
    Condition,
    EnrichmentSpec,
    NumberAttribute,
)


def enrich_columns(
    spec: EnrichmentSpec, columns: dict[str, Any], n: int, chunk: int = 0
) -> dict[str, Any]:
    """Fill the missing values of ``columns`` (canonical name -> typed Arrow array) per the spec.

    Columns absent from ``columns`` count as all-missing. Returns a new dict. ``chunk`` is the
    index of this chunk of ``CHUNK_ROWS`` rows in the file: attribute k draws from
    ``PCG64(SeedSequence(seed, spawn_key=(k,)))`` in chunk 0 and ``spawn_key=(k, chunk)`` in
    the later ones, so the output does not depend on how a reader cut the file.
    """
    import numpy as np
    import pyarrow as pa

    out = dict(columns)
    attrs = spec.spec.attributes
    for index, (name, column, kind) in enumerate(ATTRIBUTE_ORDER):
        attribute = getattr(attrs, name)
        if attribute is None:
            continue
        key = (index,) if chunk == 0 else (index, chunk)
        seq = np.random.SeedSequence(spec.spec.seed, spawn_key=key)
        rng = np.random.Generator(np.random.PCG64(seq))
        current = out.get(column)
        if current is None:
            current = pa.nulls(n, _type_of(kind, column))
        missing = current.is_null().to_numpy(zero_copy_only=False)
        todo = missing.copy()
        if kind == "category":
            filled = _fill_category(rng, attribute, out, n, todo)
        elif kind == "capabilities":
            filled = _fill_capabilities(rng, attribute, out, n, todo)
        else:
            values = _fill_number(rng, attribute, out, n, todo)
            if column == "cached_input_tokens":
                inputs = np.maximum(_numpy_of(out.get("input_tokens"), n, 0), 0).astype(np.float64)
                values = np.floor(values * inputs)
                filled = pa.array(values.astype(np.int64), mask=~missing)
            else:
                filled = pa.array(values, pa.float64(), mask=~missing)
        out[column] = _merge(current, filled, missing)
    return out


def _type_of(kind: str, column: str) -> Any:
    import pyarrow as pa

    if kind == "category":
        return pa.string()
    if kind == "capabilities":
        return pa.list_(pa.string())
    return pa.int64() if column == "cached_input_tokens" else pa.float64()


def _merge(current: Any, filled: Any, missing: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(pa.array(missing), filled.cast(current.type), current)


def _numpy_of(array: Any, n: int, fill: Any) -> Any:
    import numpy as np

    if array is None:
        return np.full(n, fill)
    return array.fill_null(fill).to_numpy(zero_copy_only=False)


def _matches(condition: Condition | None, columns: dict[str, Any], n: int) -> Any:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    mask = np.ones(n, dtype=bool)
    if condition is None:
        return mask
    for name in condition.attributes():
        column = columns.get(name)
        if column is None:
            return np.zeros(n, dtype=bool)
        allowed = pa.array(getattr(condition, name), pa.string())
        mask &= pc.fill_null(pc.is_in(column, value_set=allowed), False).to_numpy(
            zero_copy_only=False
        )
    if condition.input_tokens is not None:
        tokens = _numpy_of(columns.get("input_tokens"), n, -1)
        low, high = condition.input_tokens.min, condition.input_tokens.max
        if low is not None:
            mask &= tokens >= low
        if high is not None:
            mask &= tokens <= high
    return mask


def _fill_category(
    rng: Any, attribute: CategoryAttribute, columns: dict[str, Any], n: int, todo: Any
) -> Any:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    u = rng.random(n)
    vocabulary: list[str] = []
    codes = np.full(n, -1, dtype=np.int64)
    for condition, draw in attribute.draws():
        rows = todo & _matches(condition, columns, n)
        todo &= ~rows
        if not rows.any():
            continue
        base = len(vocabulary)
        if draw.constant is not None:
            vocabulary.append(draw.constant)
            codes[rows] = base
            continue
        names = list(draw.distribution or {})
        weights = np.array([(draw.distribution or {})[k] for k in names], dtype=np.float64)
        cumulative = np.cumsum(weights) / weights.sum()
        picked = np.minimum(np.searchsorted(cumulative, u[rows], side="right"), len(names) - 1)
        vocabulary.extend(names)
        codes[rows] = base + picked
    if not vocabulary:
        return pa.nulls(n, pa.string())
    valid = codes >= 0
    return pc.take(
        pa.array(vocabulary, pa.string()), pa.array(np.where(valid, codes, 0), mask=~valid)
    )


def _fill_capabilities(
    rng: Any, attribute: CapabilityAttribute, columns: dict[str, Any], n: int, todo: Any
) -> Any:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from nexusctl.traffic.schema import CAPABILITIES

    u = rng.random((len(CAPABILITIES), n))
    flags = np.zeros((n, len(CAPABILITIES)), dtype=bool)
    assigned = np.zeros(n, dtype=bool)
    for condition, draw in attribute.draws():
        rows = todo & _matches(condition, columns, n)
        todo &= ~rows
        assigned |= rows
        for k, capability in enumerate(CAPABILITIES):
            if draw.constant is not None:
                if capability in draw.constant:
                    flags[rows, k] = True
            else:
                p = (draw.each or {}).get(capability, 0.0)
                flags[rows, k] = u[k, rows] < p
    row_idx, cap_idx = np.nonzero(flags)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(row_idx, minlength=n), out=offsets[1:])
    values = pc.take(pa.array(CAPABILITIES, pa.string()), pa.array(cap_idx))
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=pa.array(~assigned))


def _fill_number(
    rng: Any, attribute: NumberAttribute, columns: dict[str, Any], n: int, todo: Any
) -> Any:
    import numpy as np

    values = np.zeros(n, dtype=np.float64)
    u = rng.random(n)
    draws = attribute.draws()
    betas = {
        i: rng.beta(d.beta.a, d.beta.b, size=n)
        for i, (_, d) in enumerate(draws)
        if d.beta is not None
    }
    tokens = _numpy_of(columns.get("input_tokens"), n, 0).astype(np.float64)
    for i, (condition, draw) in enumerate(draws):
        rows = todo & _matches(condition, columns, n)
        todo &= ~rows
        if draw.constant is not None:
            values[rows] = draw.constant
        elif draw.uniform is not None:
            values[rows] = draw.uniform.low + u[rows] * (draw.uniform.high - draw.uniform.low)
        elif draw.beta is not None:
            values[rows] = betas[i][rows]
        elif draw.from_input_tokens is not None:
            low = np.log(draw.from_input_tokens.low)
            high = np.log(draw.from_input_tokens.high)
            ramp = (np.log(np.maximum(tokens[rows], 1.0)) - low) / (high - low)
            values[rows] = np.clip(ramp, 0.0, 1.0)
    return values
