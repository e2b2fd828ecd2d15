"""The report's joins with the policies: the registry's promotion history, tenant budgets.

"Under which signed policy version, promoted and approved by whom": for every (environment,
policy, version, digest) the evidence names, the registry records that made that bundle live
in that environment — who signed the promotion, when, which gates it states and who approved
it (each approval is a record of its own, named by digest in the promotion).
"""

from __future__ import annotations

from nexusctl.evidence.conformance import PolicySelection
from nexusctl.evidence.policies import RegistryTimeline
from nexusctl.evidence.report_model import GateVerdict, PolicyPromotions, Promotion, Section


def join_registry(policies: Section, timeline: RegistryTimeline) -> list[PolicyPromotions]:
    """Join the report's "decisions by signed policy" rows with the registry's history."""
    approvers = timeline.approvers()
    col = {name: index for index, name in enumerate(policies.columns)}
    out = []
    for row in policies.rows:
        env, name = row[col["environment"]], row[col["policy_name"]]
        version, digest = row[col["policy_version"]], row[col["policy_digest"]]
        if name is None and isinstance(env, str) and len(timeline.names_in(env)) == 1:
            name = timeline.names_in(env)[0]
        spans = []
        if isinstance(env, str) and isinstance(name, str):
            spans = timeline.promotions(
                env,
                name,
                digest if isinstance(digest, str) else None,
                version if isinstance(version, int) else None,
            )
        promotions = [
            Promotion(
                event=str(span.record["event"]),
                time=str(span.record["time"]),
                promoted_by=str(span.record["actor"]),
                approved_by=[approvers.get(d, d) for d in span.record.get("approvals", [])],
                gates=[
                    GateVerdict(name=str(g["name"]), verdict=str(g["verdict"]))
                    for g in span.record.get("gates", [])
                ],
                reason=span.record.get("reason"),
                record_digest=str(span.record["record_digest"]),
            )
            for span in spans
        ]
        decisions = row[col["decisions"]]
        out.append(
            PolicyPromotions(
                environment=env if isinstance(env, str) else None,
                policy=name if isinstance(name, str) else None,
                version=version if isinstance(version, int) else None,
                digest=digest if isinstance(digest, str) else None,
                decisions=decisions if isinstance(decisions, int) else 0,
                promotions=promotions,
            )
        )
    return out


def tenant_budgets(selection: PolicySelection) -> dict[str, int]:
    """Monthly budget per tenant (pico-USD) from the policies checked against (the latest
    version loaded wins for a tenant several name)."""
    loaded = []
    if selection.explicit is not None:
        loaded.append(selection.explicit[1])
    if selection.registry is not None:
        loaded += selection.registry.loaded_policies()
    budgets: dict[str, int] = {}
    for policy in sorted(loaded, key=lambda p: p.policy.metadata.version):
        for tenant in policy.policy.spec.tenants:
            if tenant.monthly_budget is not None:
                budgets[tenant.id] = tenant.monthly_budget * 1_000_000
    return dict(sorted(budgets.items()))
