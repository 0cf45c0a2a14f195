"""Loading sasmodels models: several processes compiling the same kernel on a fresh machine."""
import os
import subprocess
import sys

import numpy as np

from sasview_automodel.sasmodels_env import load_model

_LOAD = """
import numpy as np
from sasmodels.direct_model import call_kernel
from sasview_automodel.sasmodels_env import load_model
q = np.geomspace(1e-3, 0.5, 50)
print(float(np.sum(call_kernel(load_model("core_shell_sphere").make_kernel([q]), {}))))
"""


def test_concurrent_first_loads_share_one_compiled_kernel(tmp_path):
    """sasmodels writes a kernel straight into its cache file: without the lock the later processes
    open a half-written library ("file too short") and the simulation workers die."""
    env = dict(os.environ, SAS_DLL_PATH=str(tmp_path / "compiled"), SAS_OPENCL="none")  # a fresh, empty cache
    procs = [subprocess.Popen([sys.executable, "-c", _LOAD], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    assert [rc for *_, rc in results] == [0] * 4, [err[-500:] for _, err, rc in results if rc]
    values = {float(out) for out, _, _ in results}
    assert len(values) == 1 and np.isfinite(values.pop())
    assert len([f for f in os.listdir(tmp_path / "compiled") if f.endswith(".so")]) == 1


def test_load_model_returns_a_usable_model():
    from sasmodels.direct_model import call_kernel

    q = np.geomspace(1e-3, 0.5, 20)
    intensity = call_kernel(load_model("sphere").make_kernel([q]), {"radius": 50.0})
    assert intensity.shape == q.shape and np.all(intensity > 0)
