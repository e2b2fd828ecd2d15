"""Build SimulationResult models by hand for gate and report tests (no replay involved)."""

from __future__ import annotations

from nexusctl.simulate.result import (
    DecisionChanges,
    Frontier,
    HistogramBucket,
    Latency,
    LatencyStats,
    OutcomeDiff,
    Outcomes,
    PolicyRef,
    Quality,
    ReasonCount,
    Residency,
    ResidencyViolation,
    RouteLatency,
    SimulationResult,
    Spend,
    SpendRow,
    TrafficRef,
    Transition,
    Verdict,
)


def _stats(requests: int, served: int, met: int) -> LatencyStats:
    return LatencyStats(
        requests=requests,
        served=served,
        p50_us=1_200_000 if served else None,
        p95_us=4_800_000 if served else None,
        p99_us=9_100_000 if served else None,
        slo_met=met,
        slo_attainment_pct=None if not served else 100 * met / served,
    )


def make_result(
    *,
    requests: int = 200,
    changed: int = 10,
    baseline_spend: int = 1_000_000,
    candidate_spend: int = 1_050_000,
    price_effect: int = 0,
    violations: int = 0,
    frontier: int = 4,
    baseline_met: int = 190,
    candidate_met: int = 188,
    escalated: int = 3,
    refused: int = 1,
    quality: bool = True,
    tenant: str = "retail-banking",
    traffic_path: str = "traffic.parquet",
) -> SimulationResult:
    """A consistent result; the defaults describe 200 requests with a 5 % spend increase."""
    served = requests - escalated - refused
    change = candidate_spend - baseline_spend
    row = SpendRow(
        key=tenant,
        baseline=baseline_spend,
        candidate=candidate_spend,
        change=change,
        price_effect=price_effect,
        routing_effect=change - price_effect,
        baseline_requests=requests,
        candidate_requests=requests,
    )
    tier_rows = [
        SpendRow(
            key=key,
            baseline=b,
            candidate=c,
            change=c - b,
            price_effect=0,
            routing_effect=c - b,
            baseline_requests=n,
            candidate_requests=n,
        )
        for key, b, c, n in (
            ("small", baseline_spend // 4, candidate_spend // 4, requests // 2),
            ("mid", baseline_spend // 2, candidate_spend // 2, requests // 4),
            ("frontier", baseline_spend // 4, candidate_spend // 4, requests // 4),
        )
    ]
    example = ResidencyViolation(
        row=7,
        request_id="req-7",
        residency_class="ca",
        deployment_id="azure-eu-gpt5",
        region="eu-west",
    )
    return SimulationResult(
        baseline=PolicyRef(
            name="retail-chat",
            version=3,
            path="base.yaml",
            sha256="a" * 64,
            catalog_sha256="b" * 64,
        ),
        candidate=PolicyRef(
            name="retail-chat",
            version=4,
            path="cand.yaml",
            sha256="c" * 64,
            catalog_sha256="b" * 64,
        ),
        traffic=TrafficRef(path=traffic_path, rows=requests, sha256="d" * 64, metadata=None),
        catalog_changed=price_effect != 0,
        catalog_changes=["changed bedrock-eu-sonnet (prices)"] if price_effect else [],
        decisions=DecisionChanges(
            requests=requests,
            changed=changed,
            changed_pct=None if not requests else 100 * changed / requests,
            route_changed=0,
            decode_changed=0,
            by_deployment=[
                Transition(
                    baseline="bedrock-eu-sonnet", candidate="mistral-eu-small", requests=changed
                ),
                Transition(baseline="(escalated)", candidate="(escalated)", requests=escalated),
            ],
            by_tier=[
                Transition(baseline="mid", candidate="small", requests=changed),
                Transition(baseline="small", candidate="small", requests=requests - changed),
            ],
            by_route=[Transition(baseline="advice", candidate="advice", requests=changed)]
            if changed
            else [],
        ),
        spend=Spend(
            baseline=baseline_spend,
            candidate=candidate_spend,
            baseline_repriced=baseline_spend + price_effect,
            change=change,
            change_pct=None if not baseline_spend else 100 * change / baseline_spend,
            price_effect=price_effect,
            routing_effect=change - price_effect,
            unrepriced_requests=0,
            by_tenant=[row],
            by_app=[row.model_copy(update={"key": "mobile-chat"})],
            by_route=[row.model_copy(update={"key": "advice"})],
            by_deployment=[row.model_copy(update={"key": "bedrock-eu-sonnet"})],
            by_tier=tier_rows,
        ),
        latency=Latency(
            baseline=_stats(requests, served, baseline_met),
            candidate=_stats(requests, served, candidate_met),
            by_route=[
                RouteLatency(
                    route_id="advice",
                    baseline=_stats(requests, served, baseline_met),
                    candidate=_stats(requests, served, candidate_met),
                )
            ],
            histogram=[
                HistogramBucket(le_ms=1000, baseline=served // 2, candidate=served // 2),
                HistogramBucket(
                    le_ms=None, baseline=served - served // 2, candidate=served - served // 2
                ),
            ],
        ),
        residency=Residency(
            baseline_violations=0,
            candidate_violations=violations,
            baseline_examples=[],
            candidate_examples=[example] if violations else [],
        ),
        frontier=Frontier(
            baseline=frontier,
            candidate=frontier,
            baseline_pct=None if not requests else 100 * frontier / requests,
            candidate_pct=None if not requests else 100 * frontier / requests,
            baseline_limit_pct=5.0,
            candidate_limit_pct=5.0,
        ),
        outcomes=OutcomeDiff(
            baseline=Outcomes(
                routed=served,
                escalated=escalated,
                refused=refused,
                escalation_share_pct=None
                if not requests
                else 100 * (escalated + refused) / requests,
                reasons=[
                    ReasonCount(
                        outcome="escalated",
                        reason="NO_ELIGIBLE",
                        rule="nothing-eligible",
                        target="ops",
                        requests=escalated,
                    )
                ],
            ),
            candidate=Outcomes(
                routed=served,
                escalated=escalated,
                refused=refused,
                escalation_share_pct=None
                if not requests
                else 100 * (escalated + refused) / requests,
                reasons=[],
            ),
        ),
        quality=Quality(
            labelled=100,
            labelled_unserved=0,
            small_accuracy=0.6,
            large_accuracy=0.8,
            baseline_accuracy=0.78,
            candidate_accuracy=0.76,
            baseline_pgr=0.9,
            candidate_pgr=0.8,
            baseline_large_share_pct=40.0,
            candidate_large_share_pct=30.0,
        )
        if quality
        else None,
        verdict=Verdict(passed=True, gates=[]),
    )
