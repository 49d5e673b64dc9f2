"""Flink SQL for the Studio notebook, kept as plain files so the notebook and the PyFlink tests run the same text.

``analytics/flink/NN_name.sql`` hold one statement each (the first line, ``-- title: ...``, titles the
notebook paragraph). ``python -m analytics.flink`` writes ``analytics/notebooks/cryptostream-live.zpln`` from
them; a test checks the committed note still equals the files. ``with_options`` swaps the ``WITH (...)`` clause
of the source table, which is how the PyFlink tests read JSON lines from files instead of Kinesis.
Standard library only: the Flink test environment installs nothing else.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

STATEMENTS_DIR = Path(__file__).resolve().parent
NOTEBOOK_PATH = STATEMENTS_DIR.parent / "notebooks" / "cryptostream-live.zpln"
NOTE_NAME = "cryptostream-live"
_TITLE = re.compile(r"^--\s*title:\s*(.+)$")
_WITH_CLAUSE = re.compile(r"\)\s*WITH\s*\((?P<options>.*)\)\s*$", re.DOTALL)


@dataclass(frozen=True)
class FlinkStatement:
    name: str
    title: str
    sql: str  # the file's text, title comment included

    @property
    def is_ddl(self) -> bool:
        return self.body.upper().startswith("CREATE ")

    @property
    def body(self) -> str:
        """The statement without its comment lines, as PyFlink's execute_sql wants it."""
        return "\n".join(line for line in self.sql.splitlines() if not line.lstrip().startswith("--")).strip()

    @property
    def interpreter(self) -> str:
        # Studio shows continuously updated results for queries; DDL needs no result display.
        return "%flink.ssql" if self.is_ddl else "%flink.ssql(type=update)"


def statements() -> list[FlinkStatement]:
    found = []
    for path in sorted(STATEMENTS_DIR.glob("[0-9][0-9]_*.sql")):
        text = path.read_text()
        match = _TITLE.match(text.splitlines()[0]) if text else None
        found.append(FlinkStatement(path.stem, match.group(1).strip() if match else path.stem, text.rstrip("\n")))
    return found


def with_options(ddl: str, options: dict[str, str]) -> str:
    """``ddl`` (a CREATE TABLE) with its WITH clause replaced by ``options``."""
    match = _WITH_CLAUSE.search(ddl)
    if match is None:
        raise ValueError("statement has no trailing WITH (...) clause")
    rendered = ",\n".join(f"  '{key}' = '{value}'" for key, value in options.items())
    return f"{ddl[: match.start()]}) WITH (\n{rendered}\n)"


def _paragraph_id(statement: FlinkStatement) -> str:
    return "paragraph_" + hashlib.sha256(statement.sql.encode()).hexdigest()[:12]


def notebook() -> dict[str, object]:
    """The Zeppelin note (``.zpln``) for the Studio notebook; deterministic so it can be committed and diffed."""
    paragraphs = []
    for statement in statements():
        paragraph_id = _paragraph_id(statement)
        paragraphs.append({
            "title": statement.title,
            "text": f"{statement.interpreter}\n{statement.sql}",
            "config": {
                "editorSetting": {"language": "sql", "editOnDblClick": False, "completionSupport": True},
                "editorMode": "ace/mode/sql",
                "title": True,
                "enabled": True,
                "results": {},
            },
            "settings": {"params": {}, "forms": {}},
            "apps": [],
            "runtimeInfos": {},
            "progressUpdateIntervalMs": 500,
            "jobName": paragraph_id,
            "id": paragraph_id,
            "status": "READY",
        })
    return {
        "paragraphs": paragraphs,
        "name": NOTE_NAME,
        "id": "2CRYPTOSTREAMLIVE",
        "defaultInterpreterGroup": "flink",
        "version": "0.10.0",
        "noteParams": {},
        "noteForms": {},
        "angularObjects": {},
        "config": {"isZeppelinNotebookCronEnable": False},
        "info": {},
    }


def notebook_text() -> str:
    return json.dumps(notebook(), indent=2) + "\n"


def paragraph_statements(note: dict[str, object]) -> list[str]:
    """The SQL of each paragraph of a note (the interpreter line removed)."""
    return [str(p["text"]).split("\n", 1)[1] for p in note["paragraphs"]]  # type: ignore[index, union-attr]
