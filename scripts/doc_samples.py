"""Regenerate the sample outputs quoted in the docs from the demo's own simulate step.

The docs quote what `make demo` prints; quoted by hand, they drift (a page once showed a
-2.84 % spend change where the demo printed +56.07 %). Each quoted output sits between
markers, ``<!-- sample:NAME -->`` ... ``<!-- /sample -->``, and this script rewrites what is
between them from a fresh run of demo 40's cheap steps on the shipped data: the retail
traffic synthesised as the demo does (100,000 rows, seed 42, mix from the retail policy) and
one replay of retail-chat v3 -> v4 gated by the retail gate file, writing the text summary,
the Markdown and the JSON. Paths are shown as the demo shows them (``out/demo/...``).

    .venv/bin/python scripts/doc_samples.py            # rewrite the marked blocks
    .venv/bin/python scripts/doc_samples.py --check    # exit 1 and name the stale blocks

``tests/e2e/test_doc_samples.py`` runs the check.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The files whose marked blocks this script owns.
DOCUMENTS = ("README.md", "docs/simulate.md")
SYNTH_ROWS = 100_000
SYNTH_SEED = 42
POLICY = "policies/nebula/retail-chat.yaml"
CANDIDATE = "policies/nebula/retail-chat.candidate.yaml"
GATES = "policies/nebula/gates/retail-chat.gates.yaml"
#: Where demo/40-simulate.sh writes the traffic (under the default NEXUSCTL_DEMO_OUT).
SHOWN_TRAFFIC = "out/demo/retail-synth.parquet"
MARKED = re.compile(r"(<!-- sample:(?P<name>[\w-]+) -->)(?P<body>.*?)(<!-- /sample -->)", re.S)


def _simulate(folder: Path) -> tuple[int, str, dict[str, str]]:
    """Run the demo's simulate step in-process; return exit code, stderr and the reports."""
    from typer.testing import CliRunner

    from nexusctl.cli.app import app
    from nexusctl.traffic.synth import write_synth

    traffic = folder / "retail-synth.parquet"
    write_synth(traffic, SYNTH_ROWS, SYNTH_SEED, policies=[REPO / POLICY])
    names = {"text": "summary.txt", "markdown": "retail-diff.md", "json": "retail-diff.json"}
    args = ["simulate", "--baseline", POLICY, "--candidate", CANDIDATE]
    args += ["--traffic", str(traffic), "--gates", GATES]
    for name in names.values():
        args += ["-o", str(folder / name)]
    previous = Path.cwd()
    os.chdir(REPO)  # policies are shown relative to the repository, as in the demo
    try:
        result = CliRunner().invoke(app, args, prog_name="nexusctl", env={"NO_COLOR": "1"})
    finally:
        os.chdir(previous)
    reports = {kind: (folder / name).read_text(encoding="utf-8") for kind, name in names.items()}
    shown = {k: _shown(v, folder) for k, v in reports.items()}
    return result.exit_code, _shown(result.stderr, folder), shown


def _shown(text: str, folder: Path) -> str:
    text = text.replace(str(folder / "retail-synth.parquet"), SHOWN_TRAFFIC)
    return text.replace(f"{folder}{os.sep}", "")


def render_samples() -> dict[str, str]:
    """Every sample, by name, from one fresh replay."""
    with tempfile.TemporaryDirectory(prefix="nexusctl-doc-samples-") as tmp:
        code, stderr, reports = _simulate(Path(tmp))
    result = json.loads(reports["json"])
    failed = [g["name"] for g in result["verdict"]["gates"] if not g["passed"]]
    count = {1: "one gate fails", 2: "two gates fail", 3: "three gates fail"}.get(
        len(failed), f"{len(failed)} gates fail"
    )
    gates = "`, `".join(failed)
    text = "\n".join(line.rstrip() for line in reports["text"].splitlines())
    console = (
        f"$ nexusctl simulate --baseline {POLICY} \\\n"
        f"    --candidate {CANDIDATE} \\\n"
        f"    --traffic {SHOWN_TRAFFIC} --gates {GATES} \\\n"
        "    -o summary.txt -o retail-diff.md -o retail-diff.json\n"
        + stderr
        + f"$ echo $?\n{code}\n$ cat summary.txt\n{text}\n"
    )
    return {
        "demo-gates": f"{count} on purpose (`{gates}`), exit {code}" if failed else "gates pass",
        "simulate-console": f"\n```console\n{console}```\n",
        "simulate-markdown": f"\n```markdown\n{reports['markdown'].rstrip()}\n```\n",
    }


def rewrite(text: str, samples: dict[str, str]) -> tuple[str, list[str]]:
    """Replace every marked block whose name has a sample; return the text and unknown names."""
    unknown: list[str] = []

    def swap(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in samples:
            unknown.append(name)
            return match.group(0)
        return match.group(1) + samples[name] + match.group(4)

    return MARKED.sub(swap, text), unknown


def stale_blocks(samples: dict[str, str]) -> list[str]:
    """``file: sample`` for every marked block that differs from ``samples``."""
    stale = []
    for document in DOCUMENTS:
        text = (REPO / document).read_text(encoding="utf-8")
        for match in MARKED.finditer(text):
            name = match.group("name")
            if samples.get(name) != match.group("body"):
                stale.append(f"{document}: {name}")
    return stale


def main(argv: list[str]) -> int:
    """Rewrite the samples (or, with --check, report the stale ones)."""
    samples = render_samples()
    if "--check" in argv:
        stale = stale_blocks(samples)
        for item in stale:
            print(f"stale sample: {item}", file=sys.stderr)
        return 1 if stale else 0
    for document in DOCUMENTS:
        path = REPO / document
        text, unknown = rewrite(path.read_text(encoding="utf-8"), samples)
        if unknown:
            print(f"{document}: no sample named {', '.join(unknown)}", file=sys.stderr)
            return 1
        path.write_text(text, encoding="utf-8")
        print(f"wrote the samples of {document}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
