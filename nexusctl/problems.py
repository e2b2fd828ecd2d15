"""Row problems found by a table's checks: 1-based row, source line, column, message.

``Problems`` keeps a bad-row mask over every row and the first ``MAX_KEPT`` problems (every
bad row is still counted), so a file of millions of bad rows stays cheap to report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Problems kept in total (every bad row is still counted and marked).
MAX_KEPT = 1000


@dataclass(frozen=True)
class Problem:
    """One reason a row is invalid: 1-based row number, source line if known, column, what."""

    row: int
    column: str
    message: str
    #: Source line (CSV, JSON Lines), or a locator string such as ``span <traceId>/<spanId>``.
    line: int | str | None = None

    def __str__(self) -> str:
        if self.line is None:
            return f"row {self.row}: {self.column}: {self.message}"
        shown = f"line {self.line}" if isinstance(self.line, int) else self.line
        return f"row {self.row} ({shown}): {self.column}: {self.message}"


@dataclass
class Problems:
    """Bad rows found so far: a boolean mask over the rows and the first problems, by row.

    ``offset`` is the number of rows before this batch (messages use ``offset + index + 1``);
    ``order`` sorts a row's problems by column.
    """

    n_rows: int
    items: list[Problem] = field(default_factory=list)
    bad: Any = None  # numpy bool array of length n_rows
    total: int = 0  # problems found, including those not kept in ``items``
    offset: int = 0
    order: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        import numpy as np

        if self.bad is None:
            self.bad = np.zeros(self.n_rows, dtype=bool)

    def add(self, mask: Any, column: str, message: Any, lines: Any = None) -> None:
        """Mark rows where ``mask`` holds as bad; ``message`` is a string or ``f(index) -> str``."""
        import numpy as np

        rows = np.flatnonzero(np.asarray(mask, dtype=bool))
        if rows.size == 0:
            return
        self.bad[rows] = True
        self.total += int(rows.size)
        # Keep the first rows of each rule only: the report lists the first problems by row,
        # which are always among them, and a file of millions of bad rows stays cheap.
        for index in rows[:MAX_KEPT].tolist():
            text = message(index) if callable(message) else message
            line = None if lines is None else _line(lines[index])
            self.items.append(Problem(self.offset + index + 1, column, text, line))

    def extend(self, later: Problems) -> None:
        """Append the problems of the next batch (its rows follow this one's)."""
        import numpy as np

        room = max(0, MAX_KEPT - len(self.items))
        self.items.extend(later.sorted()[:room])
        self.total += later.total
        self.bad = np.concatenate([self.bad, later.bad])
        self.n_rows += later.n_rows

    @property
    def bad_rows(self) -> int:
        """How many rows have at least one problem."""
        return int(self.bad.sum())

    def sorted(self) -> list[Problem]:
        """Every kept problem ordered by row, then by column order."""
        order = {name: i for i, name in enumerate(self.order)}
        # Row-level problems (unreadable record, bad metadata) come first within a row.
        return sorted(self.items, key=lambda p: (p.row, order.get(p.column, -1), p.message))

    def summary(self, source: str, limit: int) -> str:
        """A multi-line report: how many rows are bad and the first ``limit`` problems."""
        shown = self.sorted()[:limit]
        lines = [f"{source}: {self.bad_rows} invalid row(s) of {self.n_rows}:"]
        lines += [f"  {p}" for p in shown]
        rest = max(self.total, len(self.items)) - len(shown)
        if rest > 0:
            lines.append(f"  ... and {rest} more problem(s)")
        return "\n".join(lines)


def _line(value: Any) -> int | str | None:
    return value if value is None or isinstance(value, str) else int(value)
