"""The source distribution carries what the kernels are built from."""

import subprocess
import sys
import tarfile

from tests.conftest import REPO_ROOT


def test_sdist_holds_every_kernel_source_header_and_declaration(tmp_path):
    tracked = subprocess.run(["git", "ls-files", "*.pyx", "*.pxd", "*.h"], cwd=REPO_ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    assert "Recommenders/sgd_helpers.h" in tracked and "Recommenders/_sgd_common.pxd" in tracked
    built = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path)], cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (archive,) = tmp_path.glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        members = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert not set(tracked) - members
