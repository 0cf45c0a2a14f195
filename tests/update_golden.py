"""Rewrite tests/golden_examples.json from the shipped bundle (run after a retrain, review the diff).

    python tests/update_golden.py
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from sasview_automodel import Suggester  # noqa: E402

examples = os.path.join(os.path.dirname(HERE), "examples")
s = Suggester()
golden = {}
for name in sorted(os.listdir(examples)):
    if name.endswith((".txt", ".csv", ".xml")):
        (res,) = s.suggest_file(os.path.join(examples, name))
        sf = res.structure_factor
        golden[name] = {"top3": [[m, round(p, 3)] for m, p in res.top(3)],
                        "structure_factor": None if sf is None else sf.name,
                        "p_structure_needed": None if sf is None else round(sf.p_needed, 3),
                        "family": res.family, "family_probability": round(res.family_probability, 3),
                        "plausible_models": list(res.plausible_models)}
with open(os.path.join(HERE, "golden_examples.json"), "w") as f:
    json.dump(golden, f, indent=1)
print(json.dumps(golden, indent=1))
