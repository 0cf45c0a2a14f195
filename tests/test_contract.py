"""The shared public contract (../shared/tools/check_contract.py) holds for the installed package.

``shared/`` lies beside the checkout in the project's workspace, not in this repository: where it
is absent the test skips and says so; where it is present, a missing or failing checker fails."""
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SHARED = os.path.join(os.path.dirname(ROOT), "shared")
CHECKER = os.path.join(SHARED, "tools", "check_contract.py")


@pytest.mark.skipif(not os.path.isdir(SHARED),
                    reason=f"{SHARED} is absent (the shared contract checker lives beside the checkout, "
                           "outside this repository): the public contract is not checked here")
def test_public_contract():
    assert os.path.isfile(CHECKER), f"{SHARED} is present but has no tools/check_contract.py"
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    r = subprocess.run([sys.executable, CHECKER], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "0 failed" in r.stdout
