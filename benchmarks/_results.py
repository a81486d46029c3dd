"""Writing one section of ``benchmarks/RESULTS.md`` while keeping the others.

``compare.py`` (the main job) and ``discovery.py`` (formula discovery) each own one
section, delimited by HTML comments, so re-running one keeps the other's figures.
"""

import re
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
TITLE = "# Benchmark results"


def write_section(name, text, path=RESULTS):
    """Replace (or append) section ``name`` of ``path`` with ``text``."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{text.strip()}\n{end}"
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if not current.startswith(TITLE):
        current = f"{TITLE}\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _: block, current)
    else:
        updated = current.rstrip() + "\n\n" + block + "\n"
    path.write_text(updated, encoding="utf-8")
