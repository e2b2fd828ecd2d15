"""What an ``evidence query --engine spark`` may not do, checked in Spark's analyzed plan.

DuckDB's sandbox (``nexusctl.evidence.query``) turns off external access; Spark SQL has no
such switch, and some of its built-ins reach past the views. The query is therefore checked
before it runs, in three layers:

1. it must parse as the body of ``SELECT * FROM (...)``: one query, no DDL, DML, ``SET``,
   ``INSERT OVERWRITE DIRECTORY`` or second statement (``evidence.run_query``);
2. ``spark.sql.runSQLOnFiles`` is forced off for the query, whatever ``--conf`` said, so a
   file path (``parquet.`/x```) is not a table;
3. the analyzed plan (views expanded, CTEs, subqueries and lambdas included: ``toJSON``
   serialises them all) must hold none of the nodes below. Matching the analyzed classes,
   not the text, catches every spelling: ``REFLECT``, ``system.builtin.java_method``,
   `` `reflect` ``, a call inside a CTE or an ``IN (SELECT ...)``.

Analysis evaluates nothing, so a refused query has run nothing. The list is of what reaches
the JVM, a process, or files; tests/spark/test_spark_evidence.py tries each.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from nexusctl.errors import InputError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: Spark's class (simple name) -> what the user wrote and why it is refused.
DENIED_CLASSES: dict[str, str] = {
    "CallMethodViaReflection": "reflect / java_method (calls any JVM method)",
    "TryReflect": "try_reflect (calls any JVM method)",
    "ScriptTransformation": "TRANSFORM ... USING (runs a program)",
    "InputFileName": "input_file_name (names the store's files)",
    "InputFileBlockStart": "input_file_block_start (reads file offsets)",
    "InputFileBlockLength": "input_file_block_length (reads file offsets)",
    "XmlToStructs": "from_xml (an XML parser: external entities)",
    "SchemaOfXml": "schema_of_xml (an XML parser: external entities)",
}
#: Class-name prefixes refused (the xpath family parses XML too).
DENIED_PREFIXES: dict[str, str] = {
    "XPath": "xpath functions (an XML parser: external entities)",
}
#: Packages refused: protobuf reads descriptor files named in the query; avro likewise.
DENIED_PACKAGES: dict[str, str] = {
    "org.apache.spark.sql.protobuf.": "from_protobuf / to_protobuf (read descriptor files)",
    "org.apache.spark.sql.avro.": "from_avro / to_avro",
}
_HINT = "evidence query runs read-only SQL over the decisions views (docs/scale.md)"


def check_plan(frame: DataFrame) -> None:
    """Refuse a query whose analyzed plan uses anything in the lists above.

    Raises:
        InputError: naming every refused construct as the user wrote it.
    """
    plan = json.loads(str(frame._jdf.queryExecution().analyzed().toJSON()))
    reasons = sorted({why for name in _classes(plan) if (why := denied(name)) is not None})
    if reasons:
        raise InputError(f"query refused: {'; '.join(reasons)}", hint=_HINT)


def denied(class_name: str) -> str | None:
    """Why a plan node or expression of this (fully qualified) class is refused, or None."""
    simple = class_name.rsplit(".", 1)[-1].split("$", 1)[0]
    if simple in DENIED_CLASSES:
        return DENIED_CLASSES[simple]
    for prefix, why in DENIED_PREFIXES.items():
        if simple.startswith(prefix):
            return why
    for package, why in DENIED_PACKAGES.items():
        if class_name.startswith(package):
            return why
    return None


def _classes(node: Any) -> Iterator[str]:
    """Every ``class`` value in a plan's JSON (nodes, expressions, nested plans)."""
    if isinstance(node, dict):
        kind = node.get("class")
        if isinstance(kind, str):
            yield kind
        for value in node.values():
            yield from _classes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _classes(value)
