"""The shared public contract (../shared/tools/check_contract.py) holds for the installed package."""
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

CHECKER = os.path.join(os.path.dirname(ROOT), "shared", "tools", "check_contract.py")


@pytest.mark.skipif(not os.path.exists(CHECKER), reason="shared/ is not beside this checkout")
def test_public_contract():
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    r = subprocess.run([sys.executable, CHECKER], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "0 failed" in r.stdout
