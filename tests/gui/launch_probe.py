"""Run by SasView exactly like our launcher (``sasview launch_probe.py OUT.json [FILES]``):
wraps SasView's GuiManager to report, once the window is up and FILES are loaded, what the
plugin installed, then exits. PROBE_PLUGIN=0 starts plain SasView (start-up benchmark);
PROBE_LAUNCHER=PATH runs that launcher script instead of ours (the official-bundle launcher).

``install_probe(out, files)`` does only the GuiManager part: the ``enable`` test calls it from
inside ``sas.cli.main`` (plain ``sasview``, no script)."""
import json
import os
import runpy
import sys
import time

T_SCRIPT = time.time()


def _rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def _sas_version():
    import sas
    return sas.__version__


def install_probe(out, files=()):
    """Replace SasView's GuiManager by a subclass that writes the report to OUT and exits."""
    from PySide6.QtCore import QTimer
    import sas.qtgui.MainWindow.GuiManager as gm_module
    Base = gm_module.GuiManager

    class ProbeGuiManager(Base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._probe_out, self._probe_files = out, list(files)
            self._probe_timer = QTimer()
            self._probe_timer.timeout.connect(self._probe)
            self._probe_timer.start(50)
            self._probe_t0 = time.time()

        def _probe(self):
            rows = self.filesWidget.model.rowCount()
            if rows < len(self._probe_files) and time.time() - self._probe_t0 < 30:
                return
            self._probe_timer.stop()
            try:
                import sasview_automodel
                import sasview_automodel.gui.host as host
                enabled, automodel_file = host.is_enabled(), sasview_automodel.__file__
            except Exception as exc:  # noqa: BLE001 - a deliberately broken install
                enabled, automodel_file = False, f"not importable: {exc}"
            report = {
                "plugin_enabled": enabled,
                "perspectives": list(self.loadedPerspectives),
                "combo": [self.filesWidget.cbFitting.itemText(i) for i in range(self.filesWidget.cbFitting.count())],
                "context_menu": [a.text() for a in self.filesWidget.context_menu.actions()],
                "analysis_menu": [a.text() for a in self._workspace.menuAnalysis.actions()],
                "loaded": [self.filesWidget.model.item(i).text() for i in range(rows)],
                "gui_ready_s": time.time() - float(os.environ.get("PROBE_T0", T_SCRIPT)),
                "rss_mib": _rss_mib(),
                "automodel_file": automodel_file,
                "sasview_version": _sas_version(),
                "modules": sorted(m for m in sys.modules if m.startswith(("onnxruntime", "torch"))),
            }
            with open(self._probe_out, "w") as f:
                json.dump(report, f)
            os._exit(0)  # no exit dialogs, no teardown

    gm_module.GuiManager = ProbeGuiManager


def main():
    out, files = sys.argv[1], sys.argv[2:]
    install_probe(out, files)
    launcher = os.environ.get("PROBE_LAUNCHER")
    if os.environ.get("PROBE_PLUGIN", "1") != "1":
        from sas.qtgui.MainWindow.MainWindow import run_sasview
        run_sasview()
        return
    if not launcher:
        from sasview_automodel.gui.deploy import LAUNCHER as launcher
    sys.argv = [launcher, *files]
    runpy.run_path(launcher, run_name="__main__")


if __name__ == "__main__":
    main()
