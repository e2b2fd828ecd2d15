"""Policy unit tests: PolicyTest files pin requests to the decisions the router must make."""

from nexusctl.policytest.check import Failure
from nexusctl.policytest.model import Expectation, PolicyTest, PolicyTestCase
from nexusctl.policytest.run import CaseResult, TestError, TestReport, run_tests

__all__ = [
    "CaseResult",
    "Expectation",
    "Failure",
    "PolicyTest",
    "PolicyTestCase",
    "TestError",
    "TestReport",
    "run_tests",
]
