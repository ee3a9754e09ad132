"""The documentation states what the code enforces."""

from __future__ import annotations

import re
from pathlib import Path

from fleetopt.io.schema import CASE_FIELDS, TABLES, UNLIMITED

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_case_format_lists_every_range_the_schema_enforces():
    text = (DOCS / "case-format.md").read_text()
    for table in TABLES:
        for column in table.columns:
            if column.range is not None:
                row = f"| {table.stem}.csv | `{column.name}` | {column.range.describe()} |"
                assert row in text, row
    for key, field in CASE_FIELDS.items():
        if field.range is not None:
            row = f"| case.yaml | `{key}` | {field.range.describe()} |"
            assert row in text, row


def test_case_format_names_every_column_that_takes_inf_for_unlimited():
    text = (DOCS / "case-format.md").read_text()
    start = "`inf` is accepted in"
    rule = text[text.index(start) + len(start) :].split("elsewhere it is refused")[0]
    named = set(re.findall(r"`(\w+)`", rule))
    unlimited = {c.name for t in TABLES for c in t.columns if c.default == UNLIMITED}
    assert named == unlimited
