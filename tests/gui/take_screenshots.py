"""Retake docs/img/*.png through the user's route: SasView runs our real launcher, as
``sasview-automodel gui FILE`` does (``sasview launcher.py FILE``), under Xvfb, with a plain
environment (run it with a fresh HOME, no QT_API):

    HOME=$(mktemp -d) xvfb-run -a -s "-screen 0 1600x1000x24" \\
        .venv/bin/sasview tests/gui/take_screenshots.py OUT_DIR DATA_FILE [CONCENTRATED_FILE]

Nothing is changed before the launcher runs: this script only wraps the plugin's own
``SasViewHost.report_ready`` (called once our GuiManager subclass is built) to schedule, from the
running GUI, what a user does: select the loaded file, "Suggest model...", wait for the panel,
screenshot; "Open in Fitting" on the best model, screenshot; then the optional second file for
the concentrated-sample panel. Then it quits. Exit status 0 only if every screenshot was saved.
"""
import os
import runpy
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sasview_helpers import all_items, fitting_state  # noqa: E402

OUT, DATA, *REST = sys.argv[1:]
CONCENTRATED = REST[0] if REST else None


def main():
    from sasview_automodel.gui import deploy, host

    original = host.SasViewHost.report_ready

    def report_ready(self):
        original(self)
        from PySide6.QtCore import QTimer
        QTimer.singleShot(1500, lambda: _Shooter(self).start())

    host.SasViewHost.report_ready = report_ready
    sys.argv = [deploy.LAUNCHER, DATA]
    runpy.run_path(deploy.LAUNCHER, run_name="__main__")


class _Shooter:
    def __init__(self, h):
        self.h, self.gm = h, h.gm
        self.window = self.gm._workspace
        self.saved = []

    def _later(self, ms, fn):
        from PySide6.QtCore import QTimer
        QTimer.singleShot(ms, lambda: self._guard(fn))

    def _guard(self, fn):
        try:
            fn()
        except Exception as exc:  # noqa: BLE001
            import traceback
            traceback.print_exc()
            print(f"take_screenshots: failed: {exc}", file=sys.stderr)
            os._exit(1)

    def _close_dialogs(self):
        from PySide6.QtWidgets import QApplication, QDialog
        for w in QApplication.topLevelWidgets():
            if isinstance(w, QDialog) and w.isVisible():
                w.close()  # "What's New" on a fresh profile

    def shot(self, widget, name):
        os.makedirs(OUT, exist_ok=True)
        path = os.path.join(OUT, name)
        assert widget.grab().save(path), path
        self.saved.append(path)
        print(f"take_screenshots: saved {path}", file=sys.stderr)

    def start(self):
        self._close_dialogs()
        self.window.resize(1500, 950)
        self._later(800, self.suggest_first)

    def _suggest(self, item, then):
        view = self.gm.filesWidget.current_view
        view.setCurrentIndex(view.model().mapFromSource(item.index()))
        panel = self.gm.loadedPerspectives[host.PERSPECTIVE_NAME]
        conn = []

        def ready(_suggestion):
            panel.suggestionReady.disconnect(conn[0])
            self._fill(panel)
            self._later(1200, lambda: then(panel, _suggestion))

        conn.append(panel.suggestionReady.connect(ready))
        action = next(a for a in self.gm.filesWidget.context_menu.actions() if a.text() == host.ACTION_TEXT)
        action.trigger()

    def suggest_first(self):
        self._close_dialogs()
        items = all_items(self.gm)
        assert items, "the file given on the command line is not in the Data Explorer"
        self._suggest(items[0], self.after_first)

    def _fill(self, widget):
        sub = widget.parentWidget()  # the QMdiSubWindow SasView puts a perspective in
        if sub is not None:
            sub.resize(1110, 860)

    def after_first(self, panel, suggestion):
        self.shot(self.window, "sasview-panel-window.png")
        self.shot(panel, "panel.png")
        self.item = all_items(self.gm)[0]
        panel.fit_buttons[suggestion.best].click()
        self._later(4000, self.after_fitting)

    def after_fitting(self):
        state = fitting_state(self.gm)
        self._fill(state["perspective"])
        from PySide6.QtWidgets import QApplication
        QApplication.processEvents()
        self.shot(self.window, "fitting-page-window.png")
        self.shot(state["perspective"], "fitting-page.png")
        if CONCENTRATED:
            (item,) = self.h.load_files([CONCENTRATED])
            self._suggest(item, self.after_concentrated)
        else:
            self.done()

    def after_concentrated(self, panel, suggestion):
        self.shot(panel, "panel-concentrated.png")
        self.done()

    def done(self):
        print(f"take_screenshots: {len(self.saved)} screenshots", file=sys.stderr)
        sys.stderr.flush()
        os._exit(0)


host = None
if __name__ == "__main__":
    from sasview_automodel.gui import host  # noqa: F811 - after SasView's start-up, like the launcher
    main()
