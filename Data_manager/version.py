"""Which code is running: the package version and the git commit it was built from.

Both are recorded in every file this project writes. ``git_commit()`` reads
``build_info.json`` next to this module (written into the package that the cloud
backends ship, see ``scripts/code_shipping.sh``), else asks git about the checkout
this module lives in (``<commit>+dirty`` when tracked files differ from it), else
returns ``None``.
"""

import functools
import json
import subprocess
from pathlib import Path

__version__ = "0.1.0"

BUILD_INFO = Path(__file__).with_name("build_info.json")


def _git(*args: str) -> str | None:
    try:
        completed = subprocess.run(["git", "-C", str(BUILD_INFO.parent), *args], capture_output=True, text=True,
                                   timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


@functools.cache
def git_commit() -> str | None:
    """The commit of the code running now (see the module docstring), or ``None`` when unknown."""
    try:
        return json.loads(BUILD_INFO.read_text(encoding="utf-8"))["git_commit"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    commit = _git("rev-parse", "HEAD")
    if not commit:
        return None
    changes = _git("status", "--porcelain", "--untracked-files=no")
    return f"{commit}+dirty" if changes else commit
