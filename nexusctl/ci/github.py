"""A simulation as GitHub Actions sees it: a job summary and one annotation per failed gate.

``render_github`` is pure: it takes the ``SimulationResult`` (the ``simulate --format json``
document) and returns the two texts; the CLI decides where they go (the annotations to
stdout, where the runner reads workflow commands; the summary appended to the file named by
``$GITHUB_STEP_SUMMARY``). Workflow-command escaping follows GitHub's toolkit
(``%``, CR, LF in messages; also ``:`` and ``,`` in properties), the same as ``policy lint
--format github``.
"""

from __future__ import annotations

from nexusctl.document import FrozenModel
from nexusctl.errors import InputError
from nexusctl.lint.formats import escape_data, escape_property
from nexusctl.simulate.reports.report_markdown import render_markdown
from nexusctl.simulate.result import GateResult, SimulationResult

#: GitHub accepts at most 1 MiB of job summary per step.
SUMMARY_LIMIT_BYTES = 1024 * 1024


class GitHubOutput(FrozenModel):
    """What a simulation writes in GitHub Actions."""

    summary: str
    annotations: str


def _measured(gate: GateResult) -> str:
    value = "no data" if gate.value is None else f"{gate.value:g}"
    return f"measured {value}, required {gate.comparison} {gate.threshold:g}"


def render_github(result: SimulationResult, *, report_url: str | None = None) -> GitHubOutput:
    """Return the job summary (Markdown) and the workflow commands for ``result``.

    Each failed gate is one ``::error`` on the candidate policy file, titled with the gate's
    name; a passing run gets one ``::notice`` with the headline. The summary is the same
    Markdown the pull-request comment carries (linking ``report_url``, the full report),
    cut to GitHub's 1 MiB summary limit.
    """
    candidate = escape_property(result.candidate.path)
    lines = []
    failed = [g for g in result.verdict.gates if not g.passed]
    for gate in failed:
        title = escape_property(f"nexusctl gate {gate.name} failed")
        message = escape_data(f"{gate.description}: {_measured(gate)} ({gate.source})")
        lines.append(f"::error file={candidate},title={title}::{message}")
    base, cand = result.baseline, result.candidate
    headline = (
        f"{base.name} v{base.version} -> {cand.name} v{cand.version}: "
        f"{result.decisions.changed:,} of {result.decisions.requests:,} decisions changed, "
        f"spend change {result.spend.change:+,} micro-USD, "
        + ("gates passed" if not failed else f"{len(failed)} gate(s) failed")
    )
    level = "notice" if not failed else "error"
    lines.append(f"::{level} title=nexusctl simulate::{escape_data(headline)}")
    summary = render_markdown(result, report_url=report_url)
    encoded = summary.encode("utf-8")
    if len(encoded) > SUMMARY_LIMIT_BYTES:
        note = "\n\n> Summary truncated at GitHub's 1 MiB limit; see the report artifact.\n"
        room = SUMMARY_LIMIT_BYTES - len(note.encode("utf-8"))
        kept = encoded[:room].decode("utf-8", errors="ignore")
        summary = kept[: kept.rfind("\n") + 1] + note
    return GitHubOutput(summary=summary, annotations="\n".join(lines) + "\n")


def render_github_json(document: str | bytes) -> GitHubOutput:
    """``render_github`` for the JSON text of a ``SimulationResult``.

    Raises:
        InputError: the text is not a SimulationResult document.
    """
    from pydantic import ValidationError

    try:
        result = SimulationResult.model_validate_json(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(document)"
        raise InputError(f"not a SimulationResult: {where}: {first['msg']}") from None
    return render_github(result)
