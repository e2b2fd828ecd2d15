"""The report's joins with the policies: the registry's promotion history, tenant budgets.

"Under which signed policy version, promoted and approved by whom": for every (environment,
policy, version, digest) the evidence names, the registry records that made that bundle live
in that environment — who signed the promotion, when, which gates it states and who approved
it (each approval is a record of its own, named by digest in the promotion).
"""

from __future__ import annotations

from nexusctl.evidence.conformance import PolicySelection
from nexusctl.evidence.conformance_model import ConformanceReport
from nexusctl.evidence.policies import RegistryTimeline
from nexusctl.evidence.report_model import GateVerdict, PolicyPromotions, Promotion, Section


def join_registry(
    policies: Section, timeline: RegistryTimeline, conformance: ConformanceReport | None = None
) -> list[PolicyPromotions]:
    """Join the policy versions of the evidence with the registry's history.

    The versions are those records name ("decisions by signed policy") and, with
    conformance, those the registry says were live for records that name none (a LiteLLM
    log carries no policy stamp); each with the records counted under it.
    """
    approvers = timeline.approvers()
    col = {name: index for index, name in enumerate(policies.columns)}
    keys: dict[tuple[str | None, str | None, int | None, str | None], int] = {}
    for row in policies.rows:
        env, name = _text(row[col["environment"]]), _text(row[col["policy_name"]])
        digest = _text(row[col["policy_digest"]])
        version = row[col["policy_version"]]
        if name is None and digest is None:
            continue  # no stamp: conformance names the version that was live, below
        decisions = row[col["decisions"]]
        keys[(env, name, version if isinstance(version, int) else None, digest)] = (
            decisions if isinstance(decisions, int) else 0
        )
    for group in conformance.policies if conformance is not None else []:
        keys[(group.environment, group.policy, group.version, group.digest)] = group.records
    return [
        PolicyPromotions(
            environment=env,
            policy=name,
            version=version,
            digest=digest,
            decisions=decisions,
            promotions=_promotions(timeline, approvers, env, name, version, digest),
        )
        for (env, name, version, digest), decisions in sorted(keys.items(), key=str)
    ]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _promotions(
    timeline: RegistryTimeline,
    approvers: dict[str, str],
    env: str | None,
    name: str | None,
    version: int | None,
    digest: str | None,
) -> list[Promotion]:
    if env is not None and name is None and len(timeline.names_in(env)) == 1:
        name = timeline.names_in(env)[0]
    if env is None or name is None:
        return []
    return [
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
        for span in timeline.promotions(env, name, digest, version)
    ]


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
