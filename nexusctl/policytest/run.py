"""Run PolicyTest files: route every case with the reference router, collect every failure.

Discovery is lint's (``nexusctl.lint.engine.discover``): a folder means every
``*.yaml``/``*.yml`` under it whose kind is PolicyTest (other kinds are skipped); a file named
explicitly must be a PolicyTest. A test file that does not load, a policy or request file
that does not load, is an error located at file:line:column (the run exits 3); a case whose
decision differs from its expectation is a failure (exit 1), and so is finding no case at all.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nexusctl.document import (
    SourceMap,
    find_root,
    read_yaml,
    resolve_reference,
    validate_document,
)
from nexusctl.errors import ExitCode, InputError, Location, PolicyLoadError
from nexusctl.files import read_bounded
from nexusctl.lint.engine import discover
from nexusctl.policy.loader import LoadedPolicy, load_policy
from nexusctl.policy.request import RoutingRequest
from nexusctl.policytest.check import Failure, check
from nexusctl.policytest.model import PolicyTest, PolicyTestCase
from nexusctl.router import Decision, route
from nexusctl.router.explain import MAX_REQUEST_BYTES, parse_request


@dataclass(frozen=True)
class CaseResult:
    """One case: where it is, what the router decided, and every expectation it missed."""

    file: str
    name: str
    location: Location
    decision: Decision | None
    failures: tuple[Failure, ...]

    @property
    def passed(self) -> bool:
        """True when every expectation held."""
        return not self.failures


@dataclass(frozen=True)
class FileProblem:
    """A file that could not be loaded (test file, policy or request file), located."""

    location: Location
    message: str


@dataclass(frozen=True)
class PolicyTestReport:
    """Every case's result, the errors, and the files read."""

    results: tuple[CaseResult, ...]
    errors: tuple[FileProblem, ...]
    files: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[CaseResult, ...]:
        """The cases with at least one failure."""
        return tuple(r for r in self.results if not r.passed)

    @property
    def no_cases(self) -> bool:
        """True when nothing ran (a failure, never a silent pass)."""
        return not self.results and not self.errors

    def exit_code(self) -> ExitCode:
        """INVALID_INPUT (3) on any error, FINDINGS (1) on a failure or no case, else OK."""
        if self.errors:
            return ExitCode.INVALID_INPUT
        if self.failed or self.no_cases:
            return ExitCode.FINDINGS
        return ExitCode.OK


def run_tests(paths: Sequence[Path], root: Path | None = None) -> PolicyTestReport:
    """Discover PolicyTest files under ``paths`` and run every case.

    A test file's references (its policy, request files) are confined like a policy's: to the
    repository root ``root``, else the nearest ``.nexusctl-root`` above it, else its folder.

    Raises:
        InputError: a path does not exist, or ``root`` is not a folder above a test file.
    """
    results: list[CaseResult] = []
    errors: list[FileProblem] = []
    files: list[str] = []
    notes: list[str] = []
    policies: dict[Path, LoadedPolicy | FileProblem] = {}
    for candidate in discover(paths):
        try:
            data, source = read_yaml(candidate.path, candidate.display)
        except PolicyLoadError as exc:
            errors.append(FileProblem(exc.location, exc.detail))
            continue
        kind = data.get("kind") if isinstance(data, dict) else None
        if kind != "PolicyTest" and not candidate.explicit:
            continue
        try:
            test = validate_document(data, source, PolicyTest)
        except PolicyLoadError as exc:
            errors.append(FileProblem(exc.location, exc.detail))
            continue
        files.append(candidate.display)
        loaded = _policy(test, source, candidate.path, policies, root)
        if isinstance(loaded, FileProblem):
            errors.append(loaded)
            continue
        errors += _duplicate_names(test, source)
        for index, case in enumerate(test.spec.cases):
            where = source.locate(("spec", "cases", index))
            try:
                request = _request(case, index, source, candidate.path, root)
            except PolicyLoadError as exc:
                errors.append(FileProblem(exc.location, exc.detail))
                continue
            try:
                decision = route(loaded, request, case.load)
            except InputError as exc:
                errors.append(FileProblem(where, str(exc)))
                continue
            failures = check(case.expect, decision, source, ("spec", "cases", index, "expect"))
            results.append(CaseResult(candidate.display, case.name, where, decision, failures))
    if not files and not errors:
        shown = ", ".join(p.as_posix() for p in paths)
        notes.append(f"no test cases found under {shown} (no *.yaml file of kind PolicyTest)")
    return PolicyTestReport(tuple(results), tuple(errors), tuple(files), tuple(notes))


def _confined(base: Path, reference: str, where: Location, root: Path | None) -> Path:
    """``reference`` resolved inside the repository root (by default the test file's folder)."""
    return resolve_reference(find_root(base, root, owner="test file"), base, reference, where)


def _policy(
    test: PolicyTest,
    source: SourceMap,
    path: Path,
    cache: dict[Path, LoadedPolicy | FileProblem],
    root: Path | None,
) -> LoadedPolicy | FileProblem:
    """Load the policy under test once per resolved path (confined to the repository root)."""
    where = source.locate(("spec", "policy"))
    try:
        policy_path = _confined(path.parent, test.spec.policy, where, root)
    except PolicyLoadError as exc:
        return FileProblem(exc.location, exc.detail)
    if policy_path not in cache:
        display = os.path.normpath(Path(source.path).parent / test.spec.policy)
        try:
            cache[policy_path] = load_policy(policy_path, Path(display).as_posix(), root=root)
        except PolicyLoadError as exc:
            cache[policy_path] = FileProblem(exc.location, exc.detail)
    return cache[policy_path]


def _request(
    case: PolicyTestCase, index: int, source: SourceMap, path: Path, root: Path | None
) -> RoutingRequest:
    """The case's request: inline, or read (bounded, strictly) from its confined file."""
    if case.request is not None:
        return case.request
    assert case.request_file is not None  # the model requires exactly one
    where = source.locate(("spec", "cases", index, "requestFile"))
    target = _confined(path.parent, case.request_file, where, root)
    try:
        raw = read_bounded(target, MAX_REQUEST_BYTES, what="request file")
        return parse_request(raw, case.request_file)
    except InputError as exc:
        raise PolicyLoadError(where, str(exc)) from None


def _duplicate_names(test: PolicyTest, source: SourceMap) -> list[FileProblem]:
    seen: set[str] = set()
    out = []
    for index, case in enumerate(test.spec.cases):
        if case.name in seen:
            out.append(
                FileProblem(
                    source.locate(("spec", "cases", index, "name")),
                    f"duplicate case name '{case.name}' (names identify cases in reports)",
                )
            )
        seen.add(case.name)
    return out
