"""``python -m analytics.flink``: regenerate the Zeppelin note from the Flink SQL files."""

from analytics.flink import NOTEBOOK_PATH, notebook_text

NOTEBOOK_PATH.parent.mkdir(parents=True, exist_ok=True)
NOTEBOOK_PATH.write_text(notebook_text())
print(f"wrote {NOTEBOOK_PATH}")
