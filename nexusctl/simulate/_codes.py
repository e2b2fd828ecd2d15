"""A batch's decision columns as small integer codes, and the NumPy helpers that use them."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

#: Tier ranks: only served requests with a known tier get one (else -1).
TIER_RANK = {"small": 0, "mid": 1, "frontier": 2}
SMALL, FRONTIER = 0, 2


class SideCodes:
    """One side's decision columns of a batch as small integer codes plus their labels.

    ``dep``: deployment id, or '(escalated)' / '(refused)' / '(routed)' when there is none;
    ``tier``: tier, or the outcome ('none' for a routed request without a tier).
    """

    def __init__(self, table: pa.Table) -> None:
        import numpy as np

        self.outcome, self.outcome_labels = encode(table.column("outcome"))
        labels = self.outcome_labels
        self.routed_code = labels.index("routed") if "routed" in labels else -2
        deps, dep_names = encode(table.column("deployment_id"))
        self.dep_raw, self.dep_names = deps, dep_names
        self.served = deps >= 0
        self.dep = np.where(self.served, deps, len(dep_names) + self.outcome)
        self.dep_labels = dep_names + [f"({o})" for o in self.outcome_labels]
        tiers, tier_names = encode(table.column("tier"))
        has_tier = tiers >= 0
        self.tier = np.where(has_tier, tiers, len(tier_names) + self.outcome)
        self.tier_labels = tier_names + [
            "none" if o == "routed" else o for o in self.outcome_labels
        ]
        # tier_rank: 0 small, 1 mid, 2 frontier for a served request with a known tier, else -1.
        ranks = np.array([TIER_RANK.get(t, -1) for t in tier_names] + [-1], dtype=np.int64)
        self.tier_rank = np.where(self.served, ranks[tiers], -1)
        self.route, self.route_labels = encode(table.column("route_id"))
        self.cost = np_filled(table.column("predicted_cost_pusd"), 0)


def shared(
    left: list[str], right: list[str], left_codes: np.ndarray, right_codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Re-code two locally coded columns onto one shared label list."""
    import numpy as np

    union = sorted(set(left) | set(right))
    index = {label: i for i, label in enumerate(union)}
    left_map = np.array([index[x] for x in left] + [-1], dtype=np.int64)
    right_map = np.array([index[x] for x in right] + [-1], dtype=np.int64)
    return left_map[left_codes], right_map[right_codes], union


def _single(values: Any) -> Any:
    import pyarrow as pa

    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def np_valid(values: Any) -> np.ndarray:
    """Which rows of an Arrow column are not null, read from its validity bitmap."""
    import numpy as np

    array = _single(values)
    n = len(array)
    if not array.null_count:
        return np.ones(n, dtype=bool)
    bits = np.frombuffer(array.buffers()[0], dtype=np.uint8)
    valid = np.unpackbits(bits, count=array.offset + n, bitorder="little")[array.offset :]
    return valid.view(bool)


def np_filled(values: Any, fill: int) -> np.ndarray:
    """An integer or boolean Arrow column as int64 NumPy, nulls replaced by ``fill``.

    Arithmetic on the raw buffers (``value x valid``) rather than ``fill_null``: no branch
    per row and no intermediate Arrow array.
    """
    import numpy as np
    import pyarrow as pa

    array = _single(values)
    if not array.null_count:
        return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.int64)
    n, offset = len(array), array.offset
    if pa.types.is_boolean(array.type):
        bits = np.frombuffer(array.buffers()[1], dtype=np.uint8)
        raw = np.unpackbits(bits, count=offset + n, bitorder="little")[offset:]
    else:
        width = array.type.bit_width // 8
        dtype = np.dtype(f"i{width}")
        raw = np.frombuffer(array.buffers()[1], dtype=dtype, count=n, offset=offset * width)
    valid = np_valid(array)
    return np.asarray((raw.astype(np.int64) - fill) * valid + fill, dtype=np.int64)


def np_bool(values: Any) -> np.ndarray:
    import numpy as np

    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)


def np_int(values: Any) -> np.ndarray:
    import numpy as np

    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)


def encode(values: Any) -> tuple[np.ndarray, list[str]]:
    """Dictionary-encode a string column into int codes and the labels they stand for."""
    import numpy as np
    import pyarrow as pa

    combined = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_dictionary(combined.type) and pa.types.is_string(combined.dictionary.type):
        labels = combined.dictionary.to_pylist()
        if len(set(labels)) == len(labels):  # distinct labels: the indices are the codes
            return np_filled(combined.indices, -1), labels
        combined = combined.cast(combined.type.value_type)  # repeats: encode the values
    encoded = combined.dictionary_encode()
    codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
    return codes, encoded.dictionary.to_pylist()


def count_pairs(
    left: np.ndarray,
    left_labels: list[str],
    right: np.ndarray,
    right_labels: list[str],
    into: Counter[tuple[str, str]],
) -> None:
    import numpy as np

    width = len(right_labels)
    counts = np.bincount(left * width + right, minlength=len(left_labels) * width)
    for key in np.flatnonzero(counts).tolist():
        into[(left_labels[key // width], right_labels[key % width])] += int(counts[key])
