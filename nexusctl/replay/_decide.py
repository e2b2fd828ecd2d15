"""Vector form of ``nexusctl.router.route``: a batch of requests in, a batch of decisions out.

Same order of reasoning as the scalar router (see its module docstring), step by step, with
masks instead of branches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nexusctl.replay._engine import (
    _BIG,
    _NO_TIER,
    CAPABILITY_NAMES,
    _Choice,
    _Columns,
    code_mask,
    controller,
    match_mask,
)
from nexusctl.replay.schema import decision_schema, dictionary_decision_schema
from nexusctl.router import reasons
from nexusctl.router.plan import RouterPlan

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


def _route_index(plan: RouterPlan, cols: _Columns) -> np.ndarray:
    """First matching route per row; the default (last) when none matches."""
    import numpy as np

    default = len(plan.routes) - 1
    index = np.full(cols.n, default, dtype=np.int64)
    assigned = np.zeros(cols.n, dtype=bool)
    for rp in plan.routes[:-1]:
        hit = ~assigned & match_mask(rp.match, cols)
        index[hit] = rp.index
        assigned |= hit
    return index


def decide_batch(
    plan: RouterPlan, cols: _Columns, row_offset: int, dictionary: bool = False
) -> pa.RecordBatch:
    """Route every request of the batch; return the decisions (contract C).

    With ``dictionary`` the string columns are dictionary arrays (int32 indices into distinct
    labels) holding the same values: no per-row string is built.
    """
    import numpy as np

    n = cols.n
    route_idx = _route_index(plan, cols)
    routes = plan.routes
    per_route = [route_idx == rp.index for rp in routes]

    # Route limits and the tier floor (route minTier raised by complexity thresholds).
    # A limit above int64 is clamped to 2^63 - 1: every latency and cost is at most that
    # (check_int64), so the comparisons decide the same as with the scalar router's ints.
    slo_us = np.array([min(rp.slo_us, _BIG) for rp in routes], dtype=np.int64)[route_idx]
    has_cap = np.array([rp.cap_pusd is not None for rp in routes])[route_idx]
    caps = [min(rp.cap_pusd or 0, _BIG) for rp in routes]
    cap_pusd = np.array(caps, dtype=np.int64)[route_idx]
    floor = np.array([rp.min_tier_rank for rp in routes], dtype=np.int64)[route_idx]
    for rp, rows in zip(routes, per_route, strict=True):
        for at_least, rank in rp.thresholds:
            raise_it = rows & (cols.complexity >= at_least) & (floor < rank)
            floor[raise_it] = rank

    # Escalation triggers: the first rule in scope (policy order) that fires.
    trigger_table: list[tuple[str, str, str, str]] = []  # (id, action, target, reason code)
    trigger = np.full(n, -1, dtype=np.int64)
    for rp, rows in zip(routes, per_route, strict=True):
        for t in rp.triggers:
            if t.when is not None:
                fires = match_mask(t.when, cols)
            else:
                fires = cols.confidence < (t.confidence_below or 0.0)  # NaN (null) is False
            hit = rows & (trigger == -1) & fires
            if hit.any():
                trigger_table.append((t.id, t.action, t.target, t.reason_code))
                trigger[hit] = len(trigger_table) - 1

    # Hard filters shared by every deployment.
    residency = cols.codes["residency_class"]
    class_rows = {rc: code_mask(residency, frozenset((rc,))) for rc in sorted(plan.residency)}
    guard_clear = [~match_mask(g.when, cols) for g in plan.guardrails]  # guard does not apply
    total_tokens = cols.input_tokens + cols.output + cols.reasoning
    # Required capabilities as one bit set per row (bit k: CAPABILITY_NAMES[k]).
    required_bits = np.zeros(n, dtype=np.uint8)
    for bit, capability in enumerate(CAPABILITY_NAMES):
        required_bits |= cols.has_cap[capability].astype(np.uint8) << np.uint8(bit)

    # Route x residency-class masks: a deployment's static fate depends only on these.
    pair_rows = {
        (rp.index, rc): rows & class_rows[rc]
        for rp, rows in zip(routes, per_route, strict=True)
        for rc in class_rows
    }
    deps = plan.deployments
    results = []
    min_rank = np.full(n, _NO_TIER, dtype=np.int64)
    # Smallest tier first: a row that already has an eligible deployment of a smaller tier
    # can never take this one (only its smallest eligible tier competes), so it is skipped
    # here rather than priced and dropped later. The selection below runs in plan order.
    for dep in sorted(deps, key=lambda d: d.tier_rank):
        ok = np.zeros(n, dtype=bool)
        for (route_index, rc), rows in pair_rows.items():
            if (
                routes[route_index].static_reasons[dep.index] is None
                and dep.region in plan.residency[rc]
            ):
                ok |= rows
        for guard, clear in zip(plan.guardrails, guard_clear, strict=True):
            if guard.denies[dep.index]:
                ok &= clear
        lacking = sum(
            1 << bit
            for bit, capability in enumerate(CAPABILITY_NAMES)
            if capability not in dep.capabilities
        )
        if lacking:
            ok &= (required_bits & np.uint8(lacking)) == 0
        ok &= total_tokens <= dep.context_window
        ok &= dep.tier_rank >= floor
        ok &= min_rank >= dep.tier_rank
        rows = np.flatnonzero(ok)
        choice = controller(plan, dep.index, cols, rows, slo_us, cap_pusd, has_cap)
        kept = choice
        if not choice.within_cap.all():
            keep = np.flatnonzero(choice.within_cap)
            kept = _Choice(
                choice.gamma[keep],
                choice.ttft[keep],
                choice.latency[keep],
                choice.cost[keep],
                choice.slo_met[keep],
                choice.within_cap[keep],
            )
            rows = rows[keep]
        min_rank[rows] = dep.tier_rank  # every row here had min_rank >= this tier
        results.append((dep, rows, kept))
    results.sort(key=lambda result: result[0].index)

    # Smallest tier with an eligible deployment; inside it the cheapest meeting the SLO,
    # else the fastest; deployments in id order with strict comparisons (ties: lower id).
    any_eligible = min_rank < _NO_TIER
    tier_meets = np.zeros(n, dtype=bool)
    # Every kept row of a deployment has its tier as smallest eligible tier (see above).
    for _, rows, kept in results:
        tier_meets[rows[np.flatnonzero(kept.slo_met)]] = True
    big = (1 << 63) - 1
    best = np.full(n, -1, dtype=np.int64)
    best1 = np.full(n, big, dtype=np.int64)
    best2 = np.full(n, big, dtype=np.int64)
    picked = {
        "gamma": np.zeros(n, dtype=np.int64),
        "ttft": np.zeros(n, dtype=np.int64),
        "latency": np.zeros(n, dtype=np.int64),
        "cost": np.zeros(n, dtype=np.int64),
        "slo_met": np.zeros(n, dtype=bool),
    }
    # Index arrays rather than boolean masks: gathering by index is several times faster
    # than boolean selection when the mask is irregular.
    for dep, rows, kept in results:
        # Its rows all have its tier as smallest eligible tier; when some deployment of
        # that tier meets the SLO, this one competes only if it meets it too.
        meets = tier_meets[rows]
        sel = np.flatnonzero(kept.slo_met | ~meets)
        if not len(sel):
            continue
        target = rows[sel]
        meets = meets[sel]
        cost, latency = kept.cost[sel], kept.latency[sel]
        k1 = np.where(meets, cost, latency)
        k2 = np.where(meets, latency, cost)
        b1 = best1[target]
        upd = np.flatnonzero((k1 < b1) | ((k1 == b1) & (k2 < best2[target])))
        pick = sel[upd]
        target = target[upd]
        best[target] = dep.index
        best1[target] = k1[upd]
        best2[target] = k2[upd]
        picked["cost"][target] = cost[upd]
        picked["latency"][target] = latency[upd]
        picked["gamma"][target] = kept.gamma[pick]
        picked["ttft"][target] = kept.ttft[pick]
        picked["slo_met"][target] = kept.slo_met[pick]

    # Outcome.
    action_refuse = np.array([a == "refuse" for _, a, _, _ in trigger_table] or [False])
    refused_by_rule = (trigger >= 0) & action_refuse[np.maximum(trigger, 0)]
    served = any_eligible & ~refused_by_rule
    chosen = np.where(served, best, -1)
    rule_col, target_col, reason_col, outcome = _outcomes(
        plan, route_idx, trigger, trigger_table, refused_by_rule, any_eligible, dictionary
    )

    return _assemble(
        plan,
        cols,
        row_offset,
        route_idx,
        chosen,
        picked,
        outcome,
        rule_col,
        target_col,
        reason_col,
        dictionary,
    )


def index_array(index: np.ndarray) -> pa.Array:
    """Positions as an int32 Arrow array, null where negative (build once, use per column).

    Built from buffers (a packed validity bitmap): ``pa.array(..., mask=...)`` is several
    times slower on a 65,536-row batch.
    """
    import numpy as np
    import pyarrow as pa

    null = index < 0
    nulls = int(np.count_nonzero(null))
    data = np.maximum(index, 0).astype(np.int32)  # null slots point at label 0
    validity = pa.py_buffer(np.packbits(~null, bitorder="little")) if nulls else None
    return pa.Array.from_buffers(pa.int32(), len(index), [validity, pa.py_buffer(data)], nulls)


def label_column(labels: list[str], index: pa.Array, dictionary: bool) -> pa.Array:
    """``labels[index]`` as a string column (index null: null), or as a dictionary column.

    The dictionary holds each distinct label once, so equal values have equal indices.
    """
    import numpy as np
    import pyarrow as pa

    if not dictionary:
        return pa.array(labels, type=pa.string()).take(index)
    distinct = list(dict.fromkeys(labels))
    if len(distinct) != len(labels):
        position = {label: i for i, label in enumerate(distinct)}
        remap = np.array([position[label] for label in labels], dtype=np.int32)
        data = remap[np.frombuffer(index.buffers()[1], np.int32, len(index), index.offset * 4)]
        index = pa.Array.from_buffers(
            pa.int32(), len(index), [index.buffers()[0], pa.py_buffer(data)], index.null_count
        )
    return pa.DictionaryArray.from_arrays(index, pa.array(distinct, type=pa.string()), safe=False)


def _outcomes(
    plan: RouterPlan,
    route_idx: np.ndarray,
    trigger: np.ndarray,
    trigger_table: list[tuple[str, str, str, str]],
    refused_by_rule: np.ndarray,
    any_eligible: np.ndarray,
    dictionary: bool,
) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    """Return the escalation rule, target, reason and outcome columns."""
    import numpy as np

    # String tables; index -1 means null.
    rules: list[str] = [t[0] for t in trigger_table]
    targets: list[str] = [t[2] for t in trigger_table]
    codes: list[str] = [t[3] for t in trigger_table]
    rule_i = trigger.copy()
    target_i = trigger.copy()
    reason_i = trigger.copy()
    # 0 routed, 1 escalated, 2 refused (a rule refuses only when it fired: 1 + 1).
    outcome = (trigger >= 0).astype(np.int64) + refused_by_rule

    nothing = np.flatnonzero(~any_eligible & ~refused_by_rule)
    on_route = route_idx[nothing]
    codes.append(reasons.NO_ELIGIBLE_DEPLOYMENT)
    reason_i[nothing] = len(codes) - 1
    outcome[nothing] = 2
    rule_i[nothing] = -1
    target_i[nothing] = -1
    for rp in plan.routes:
        rule = rp.no_eligible
        if rule is None:
            continue
        rows = nothing[on_route == rp.index]
        rules.append(rule.id)
        targets.append(rule.target)
        rule_i[rows] = len(rules) - 1
        target_i[rows] = len(targets) - 1
        outcome[rows] = 1 if rule.action == "escalate" else 2

    return (
        label_column(rules, index_array(rule_i), dictionary),
        label_column(targets, index_array(target_i), dictionary),
        label_column(codes, index_array(reason_i), dictionary),
        label_column(["routed", "escalated", "refused"], index_array(outcome), dictionary),
    )


def _assemble(
    plan: RouterPlan,
    cols: _Columns,
    row_offset: int,
    route_idx: np.ndarray,
    chosen: np.ndarray,
    predicted: dict[str, np.ndarray],
    outcome: pa.Array,
    rule_col: pa.Array,
    target_col: pa.Array,
    reason_col: pa.Array,
    dictionary: bool,
) -> pa.RecordBatch:
    """Gather the chosen deployment's fields and build the decisions batch."""
    import numpy as np
    import pyarrow as pa

    n = cols.n
    deps = plan.deployments
    none = chosen < 0
    chosen_index = index_array(chosen)

    def per_dep(values: list[str]) -> pa.Array:
        return label_column(values, chosen_index, dictionary)

    def gather(name: str) -> np.ndarray:
        return predicted[name]

    validity, nulls = chosen_index.buffers()[0], chosen_index.null_count

    def nullable(values: np.ndarray, kind: pa.DataType) -> pa.Array:
        # From buffers, sharing the chosen deployment's validity bitmap (no per-column mask).
        if kind == pa.bool_():
            data = pa.py_buffer(np.packbits(values, bitorder="little"))
        else:
            data = pa.py_buffer(np.ascontiguousarray(values, dtype=np.int64))
        return pa.Array.from_buffers(kind, n, [validity, data], nulls)

    gamma = np.where(none, 0, gather("gamma")).astype(np.int32)
    ttft = nullable(gather("ttft"), pa.int64())
    latency = nullable(gather("latency"), pa.int64())
    cost = nullable(gather("cost"), pa.int64())
    slo_met = nullable(gather("slo_met"), pa.bool_())
    route_ids = label_column([rp.id for rp in plan.routes], index_array(route_idx), dictionary)
    columns = [
        pa.array(np.arange(row_offset, row_offset + n, dtype=np.int64)),
        cols.request_id,
        route_ids,
        outcome,
        per_dep([d.id for d in deps]),
        per_dep([d.tier for d in deps]),
        per_dep([d.provider for d in deps]),
        per_dep([d.region for d in deps]),
        pa.array(gamma, type=pa.int32()),
        ttft,
        latency,
        cost,
        slo_met,
        rule_col,
        target_col,
        reason_col,
        pa.array(np.asarray(cols.load, dtype=np.int64), type=pa.int64()),
    ]
    schema = dictionary_decision_schema() if dictionary else decision_schema()
    return pa.RecordBatch.from_arrays(columns, schema=schema)
