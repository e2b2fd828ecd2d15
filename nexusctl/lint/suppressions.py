"""Apply a policy's ``spec.suppressions``: explicit, justified, optionally expiring exceptions.

A suppression matches a finding of the policy when the rule ids are equal and, if it names a
``target``, the finding is about that id. The clock is injected (``today``): a suppression
whose ``expires`` date is before ``today`` no longer suppresses and is itself reported
(NXL012); a live suppression that matched nothing is reported as a note (NXL014).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from nexusctl.lint.context import PolicyContext
from nexusctl.lint.findings import RULES, Finding, Suppressed, finding

#: Findings about suppressions themselves (and load errors) cannot be suppressed.
UNSUPPRESSIBLE = frozenset({"NXL000", "NXL012", "NXL014"})


def apply_suppressions(
    ctx: PolicyContext, findings: Iterable[Finding], today: dt.date
) -> tuple[list[Finding], list[Finding]]:
    """Split ``findings`` into (active, suppressed), adding NXL012/NXL014 findings to active.

    Only findings located in the policy's own file are candidates; catalog findings are
    shared by every policy using the catalog and cannot be waived by one of them.
    """
    suppressions = ctx.loaded.policy.spec.suppressions
    used = [False] * len(suppressions)
    live = [s.expires is None or s.expires >= today for s in suppressions]
    active: list[Finding] = []
    suppressed: list[Finding] = []
    for item in findings:
        hit = None
        if item.path == ctx.policy_path and item.rule not in UNSUPPRESSIBLE:
            for index, rule in enumerate(suppressions):
                if rule.rule != item.rule or not live[index]:
                    continue
                if rule.target is not None and rule.target not in item.targets:
                    continue
                hit = index
                break
        if hit is None:
            active.append(item)
            continue
        used[hit] = True
        path, line, column = ctx.at("spec", "suppressions", hit)
        suppressed.append(item.suppress(Suppressed(suppressions[hit].reason, path, line, column)))
    for index, rule in enumerate(suppressions):
        where = ctx.at("spec", "suppressions", index)
        target = f" (target '{rule.target}')" if rule.target else ""
        if not live[index]:
            active.append(
                finding(
                    "NXL012",
                    f"suppression of {rule.rule}{target} expired on {rule.expires}; "
                    "renew its reason and date or fix the finding",
                    where,
                    rule.rule,
                )
            )
        elif rule.rule not in RULES:
            active.append(
                finding(
                    "NXL014",
                    f"suppression names rule {rule.rule}, which does not exist",
                    ctx.at("spec", "suppressions", index, "rule"),
                    rule.rule,
                )
            )
        elif not used[index]:
            active.append(
                finding(
                    "NXL014",
                    f"suppression of {rule.rule}{target} matched no finding; remove it",
                    where,
                    rule.rule,
                )
            )
    return active, suppressed
