"""Issue 11's three runbook figures in one run, each by its own script (each also runs alone):

    python bench/runbooks.py          # import of a 5 MB runbook and parsing of 1,000 files,
                                      # ranking suggestions over 10,000 sections (p99 < 20 ms),
                                      # a step's line to the incident page (p99 < 250 ms)

Each part runs as a fresh process so that one's memory and threads do not weigh on the next.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PARTS = ("runbook_import.py", "runbook_suggest.py", "runbook_live.py")


def main() -> None:
    here = Path(__file__).resolve().parent
    failed = 0
    for part in PARTS:
        print(f"== {part}", flush=True)
        failed |= subprocess.run([sys.executable, str(here / part)], check=False).returncode
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
