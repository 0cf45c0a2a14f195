"""The command line: table, JSON, --top, --q-unit, info, clean errors."""
import json
import os
import subprocess
import sys

from tests.conftest import EXAMPLES


def run(*args):
    return subprocess.run([sys.executable, "-m", "sasview_automodel", *args], capture_output=True, text=True)


def test_suggest_prints_a_ranked_table():
    r = run("suggest", os.path.join(EXAMPLES, "sphere_saxs.txt"))
    assert r.returncode == 0, r.stderr
    assert "1. " in r.stdout and "2. " in r.stdout and "3. " in r.stdout and "confidence" in r.stdout


def test_suggest_json_one_result_per_file_and_top():
    files = [os.path.join(EXAMPLES, f) for f in ("sphere_saxs.txt", "cylinder_sans.txt")]
    r = run("suggest", *files, "--json", "--top", "2")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert len(doc) == 2 and all(len(d["ranking"]) == 2 for d in doc)
    assert [os.path.basename(d["file"]) for d in doc] == ["sphere_saxs.txt", "cylinder_sans.txt"]


def test_q_unit_option_is_applied():
    path = os.path.join(EXAMPLES, "sphere_saxs.txt")
    a = json.loads(run("suggest", path, "--json").stdout)
    b = json.loads(run("suggest", path, "--json", "--q-unit", "nm").stdout)
    assert a["ranking"] != b["ranking"]


def test_bad_file_gives_one_clear_message_and_nonzero_exit(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    r = run("suggest", str(empty))
    assert r.returncode != 0 and "Traceback" not in r.stderr and "empty" in r.stderr
    good = os.path.join(EXAMPLES, "sphere_saxs.txt")
    r = run("suggest", good, str(empty), "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert "ranking" in doc[0] and "error" in doc[1]


def test_info_shows_the_model_card():
    r = run("info")
    assert r.returncode == 0, r.stderr
    assert "sha256" in r.stdout and "sphere" in r.stdout
    card = json.loads(run("info", "--json").stdout)
    assert card["classes"][0] == "sphere" and "means" not in card["ood"]


def test_plugin_commands_are_one_group(tmp_path):
    """Deployment is `sasview-automodel plugin enable|disable|status|bundle`: enable and disable
    write and remove the hook in a site dir, status reports it, bundle writes DIR/launch.py."""
    r = run("plugin", "--help")
    assert r.returncode == 0 and all(c in r.stdout for c in ("enable", "disable", "status", "bundle"))
    site = str(tmp_path / "site")
    os.makedirs(site)
    status = lambda: json.loads(run("plugin", "status", "--json", "--site-dir", site).stdout)  # noqa: E731
    assert status()["enabled"] is False
    r = run("plugin", "enable", "--site-dir", site)
    assert r.returncode == 0 and "plugin disable" in r.stdout, r.stderr
    assert status()["enabled"] is True and status()["hook_current"] is True
    r = run("plugin", "disable", "--site-dir", site)
    assert r.returncode == 0 and "removed" in r.stdout and status()["enabled"] is False
    r = run("plugin", "bundle", str(tmp_path / "addon"))
    assert r.returncode == 0 and (tmp_path / "addon" / "launch.py").is_file()
    from sasview_automodel.gui import deploy
    assert (tmp_path / "addon" / "launch.py").read_text() == open(deploy.LAUNCHER).read()
    assert run("plugin").returncode == 2  # a plugin command is required
