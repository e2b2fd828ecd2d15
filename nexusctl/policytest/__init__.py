"""Policy unit tests: PolicyTest files pin requests to the decisions the router must make."""

from nexusctl.policytest.check import Failure
from nexusctl.policytest.model import Expectation, PolicyTest, PolicyTestCase
from nexusctl.policytest.run import CaseResult, FileProblem, PolicyTestReport, run_tests

__all__ = [
    "CaseResult",
    "Expectation",
    "Failure",
    "FileProblem",
    "PolicyTest",
    "PolicyTestCase",
    "PolicyTestReport",
    "run_tests",
]
