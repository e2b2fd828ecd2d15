"""Check a catalog's prices against a price table, or rewrite them in place, atomically."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexusctl.catalog._edit import apply_price_diffs
from nexusctl.catalog.prices import (
    PriceDiff,
    PriceProblem,
    compare_prices,
    default_table,
    read_price_table,
)
from nexusctl.document import MAX_BYTES
from nexusctl.errors import EnvironmentError_, InputError, PolicyLoadError
from nexusctl.files import read_bounded
from nexusctl.policy.loader import LoadedCatalog, load_catalog


@dataclass(frozen=True)
class PriceCheck:
    """The result of comparing one catalog with one price table."""

    catalog: LoadedCatalog
    table_path: Path
    table: dict[str, Any]
    diffs: list[PriceDiff]
    problems: list[PriceProblem]


def check_prices(catalog_path: Path, table_path: Path | None = None) -> PriceCheck:
    """Load the catalog and the table (default: the catalog's spec.priceTable) and compare.

    Missing keys and malformed entries are collected in ``problems``, not raised, so one
    run reports all of them together with every changed price.

    Raises:
        PolicyLoadError: the catalog or the table as a whole is malformed or unreadable.
        InputError: no table given and the catalog names none.
    """
    loaded = load_catalog(catalog_path)
    path = table_path if table_path is not None else default_table(loaded)
    table = read_price_table(path)
    compared = compare_prices(loaded, table, f"price table {path}")
    return PriceCheck(loaded, path, table, compared.diffs, compared.problems)


def write_prices(check: PriceCheck) -> None:
    """Write the table's prices into the catalog file in place, keeping comments and layout.

    The new text is written to a temporary file beside the catalog, loaded and compared
    again (it must validate and be in sync), then moved over the catalog with ``os.replace``;
    on any failure the catalog is untouched.

    Raises:
        PolicyLoadError: the comparison found problems (nothing is written then; the first is
            raised, the count in the hint), or the YAML around a price cannot be rewritten.
        EnvironmentError_: the file cannot be read or replaced.
    """
    if check.problems:
        first = check.problems[0]
        more = len(check.problems) - 1
        raise PolicyLoadError(
            first.location,
            first.message + "; the catalog was not changed",
            hint=f"{more} more problem(s)" if more else first.hint,
        )
    if not check.diffs:
        return
    path = check.catalog.path
    raw = read_bounded(path, MAX_BYTES, what="catalog")
    text = raw.decode("utf-8")
    new_text = apply_price_diffs(text, check.catalog.source.path, check.diffs)
    try:
        mode = path.stat().st_mode & 0o7777
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise EnvironmentError_(f"cannot write beside {path}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(new_text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        rewritten = load_catalog(tmp, root=path.parent, display=check.catalog.source.path)
        left = compare_prices(rewritten, check.table).diffs
        if left:
            raise InputError(
                f"{check.catalog.source.path}: rewriting the prices did not converge "
                f"({left[0].deployment} {left[0].field}); the catalog was not changed"
            )
        os.replace(tmp, path)
    except OSError as exc:
        raise EnvironmentError_(f"cannot replace {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
