"""The Routing Brain: the reference router and the Decision it records.

``route(policy, request, load)`` is the one decision function; the vectorised replay
(nexusctl.replay) must agree with it decision by decision.
"""

from nexusctl.router.decision import Candidate, Decision, decision_row
from nexusctl.router.plan import RouterPlan, compile_plan, plan_for
from nexusctl.router.route import route

__all__ = [
    "Candidate",
    "Decision",
    "RouterPlan",
    "compile_plan",
    "decision_row",
    "plan_for",
    "route",
]
