"""The ONE shim between the plugin and SasView: every ``sas.*`` call of the plugin is here, and
``start()`` is the one entry into SasView that every route ends in.

Routes (docs/install.md), each ending in ``start``:

* ``sasview launcher.py [FILES]`` (``gui/launcher.py``, SasView runs it as a script): ``start(files)``;
* ``sasview-automodel gui [FILES]``: ``run_sasview_command([launcher.py, *FILES])``, i.e. SasView's
  own start-up, which runs the launcher;
* the official bundles' ``DIR/launch.py`` (a copy of ``launcher.py``): the same;
* ``sasview-automodel plugin enable`` then plain ``sasview``: ``gui/autoload.py`` calls
  ``wrap_run_sasview(module)`` once SasView imported its main-window module, so that SasView's own
  ``run_sasview`` goes through ``start``.

What the plugin adds to SasView is the table ``CONTRIBUTIONS`` below; ``install`` reads it.

SasView 6 has no plugin API (see docs/install.md). We use only the calls SasView itself uses
to restore projects and to send data, which have been stable since 6.0:

* ``sas.qtgui.Perspectives.PERSPECTIVES``: the registry our perspective class is added to;
* ``sas.qtgui.MainWindow.GuiManager.GuiManager``: replaced by a subclass that adds our
  actions after ``__init__`` (``MainSasViewWindow`` imports it at call time);
* ``GuiManager.perspectiveChanged``, ``loadedPerspectives``, ``filesWidget`` (``cbFitting``,
  ``onAnalysisUpdate``, ``selectedItems``, ``context_menu``, ``readData``/``loadComplete``);
* ``FittingWindow.setData`` / ``updateFromParameters`` / ``currentFittingWidget`` /
  ``master_category_dict``; ``GuiUtils.dataFromItem``; for P@S pages also the page's
  ``getRowFromName``, ``lstParams`` (its choice combo boxes) and ``logic.kernel_module.getParam``
  (SasView 6.1.3's ``updateFromParameters`` can skip a choice row, see ``_set_choice_rows``);
* ``sas.qtgui.MainWindow.MainWindow.run_sasview``: called with or without files (6.2 / 6.1);
  ``sas.cli.main``: SasView's own ``sasview`` command.

The one other place that names SasView is the fallback of ``launcher.py``: it starts SasView
without the plugin exactly when this package cannot be imported at all.

Fail-safe: any ImportError/AttributeError/TypeError/KeyError while installing, or a
SasView that lacks one of the calls above, logs ONE line starting with
``sasview-automodel: plugin disabled`` and leaves SasView exactly as it was. Errors while the
plugin runs (e.g. the hand-off to Fitting) are shown in the panel and logged, never raised
into SasView.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from . import logic

log = logging.getLogger("sasview_automodel.gui")


# --------------------------------------------------------------------------------------------
# What the plugin contributes to SasView: THE table, read by install() and SasViewHost
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PerspectiveEntry:
    """A perspective: our panel in SasView's perspective list (Data Explorer combo, "Send data")."""
    name: str
    ext: str


@dataclass(frozen=True)
class MenuAction:
    """A menu entry. ``menu``: a key of ``MENUS``; ``handler``: the ``SasViewHost`` method it calls;
    ``shortcut``: a QKeySequence text, "" for none."""
    text: str
    menu: str
    handler: str
    object_name: str
    status_tip: str
    separator_before: bool = False
    shortcut: str = ""


PERSPECTIVE_NAME = "Model Suggestion"
ACTION_TEXT = "Suggest model..."
_SUGGEST_TIP = "Rank sasmodels form factors for the selected 1D data (sasview-automodel)"

CONTRIBUTIONS = (
    PerspectiveEntry(PERSPECTIVE_NAME, ext="automodel"),
    MenuAction(ACTION_TEXT, menu="data_explorer", handler="on_suggest_action",
               object_name="actionAutomodelSuggest", status_tip=_SUGGEST_TIP, separator_before=True),
    MenuAction(ACTION_TEXT, menu="analysis", handler="on_suggest_action",
               object_name="actionAutomodelSuggest", status_tip=_SUGGEST_TIP),
)
PERSPECTIVES = tuple(c for c in CONTRIBUTIONS if isinstance(c, PerspectiveEntry))
ACTIONS = tuple(c for c in CONTRIBUTIONS if isinstance(c, MenuAction))

# MenuAction.menu -> the words of the ready line; ``_menu`` finds that menu in SasView
MENUS = {"data_explorer": "the Data Explorer menu", "analysis": "the Analysis menu"}

FITTING = "Fitting"

# Host calls the plugin needs, checked before anything is installed: (module, dotted attribute).
REQUIRED = (
    ("sas.qtgui.Perspectives", "PERSPECTIVES"),
    ("sas.qtgui.Perspectives.perspective", "Perspective"),
    ("sas.qtgui.MainWindow.GuiManager", "GuiManager"),
    ("sas.qtgui.MainWindow.GuiManager", "GuiManager.perspectiveChanged"),
    ("sas.qtgui.MainWindow.DataExplorer", "DataExplorerWindow.selectedItems"),
    ("sas.qtgui.MainWindow.DataExplorer", "DataExplorerWindow.contextMenu"),
    ("sas.qtgui.MainWindow.DataExplorer", "DataExplorerWindow.onAnalysisUpdate"),
    ("sas.qtgui.Perspectives.Fitting.FittingPerspective", "FittingWindow.setData"),
    ("sas.qtgui.Perspectives.Fitting.FittingPerspective", "FittingWindow.updateFromParameters"),
    ("sas.qtgui.Perspectives.Fitting.FittingPerspective", "FittingWindow.currentFittingWidget"),
    ("sas.qtgui.Utilities.GuiUtils", "dataFromItem"),
)

HOST_ERRORS = (ImportError, AttributeError, TypeError, KeyError, ValueError, AssertionError)

_state = {"enabled": False, "reason": "", "original_gui_manager": None, "logged": False,
          "attempted": False}


class HostMismatch(RuntimeError):
    """SasView lacks a call the plugin needs (another version or a changed internal API)."""


def sasview_version() -> str:
    try:
        import sas
        return str(getattr(sas, "__version__", "?"))
    except ImportError:
        return "not installed"


def is_enabled() -> bool:
    return bool(_state["enabled"])


def disabled_reason() -> str:
    return _state["reason"]


def disable(reason: str) -> None:
    """Disable the plugin and log ONE clear line (only the first reason is logged)."""
    _state["enabled"] = False
    if not _state["logged"]:
        _state["reason"] = reason
        _state["logged"] = True
        log.error("sasview-automodel: plugin disabled (SasView %s does not match: %s); "
                  "SasView runs without it", sasview_version(), reason)


def _resolve(module: str, dotted: str):
    import importlib
    obj = importlib.import_module(module)
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def bind_qt() -> None:
    """Import SasView's Qt binding (PySide6) before any ``sas.qtgui`` module, as SasView's own
    start-up does (``sas.qtgui.MainWindow.MainWindow`` imports PySide6 first).

    Without it, ``import sas.qtgui.Perspectives`` in a process that has not imported PySide6 yet
    (the launcher script runs before SasView's main window module is imported) fails: the Corfunc
    perspective imports matplotlib's ``backend_qt5agg``, which, with ``QT_API`` unset and no Qt
    module loaded yet, looks for PyQt5/PySide2 only. With PySide6 already in ``sys.modules``
    matplotlib picks it, exactly as in a plain ``sasview`` run, so SasView's own perspectives
    behave as without the plugin. Changes no environment variable. Raises ImportError when
    PySide6 is missing (the fail-safe then disables the plugin)."""
    import PySide6.QtCore  # noqa: F401
    import PySide6.QtWidgets  # noqa: F401


def check_host(required=REQUIRED) -> None:
    """Raise HostMismatch naming the first missing host call."""
    try:
        bind_qt()
    except ImportError as exc:
        raise HostMismatch(f"SasView's Qt binding PySide6 cannot be imported ({exc})") from None
    for module, dotted in required:
        try:
            _resolve(module, dotted)
        except HOST_ERRORS as exc:
            raise HostMismatch(f"{module}.{dotted} is missing ({type(exc).__name__}: {exc})") from None


# --------------------------------------------------------------------------------------------
# The entry into SasView (every route) and the installation
# --------------------------------------------------------------------------------------------
def start(files=(), run=None):
    """THE entry of every route into SasView: install the plugin (once per process; a SasView
    that does not match is left unchanged, with one log line), then run SasView's GUI with
    ``files`` in the Data Explorer; blocks until the GUI closes.

    ``run`` is SasView's ``run_sasview`` already bound to the arguments SasView gave it (the
    ``plugin enable`` hook, ``wrap_run_sasview``); by default it is imported from SasView. Call it
    where SasView's own start-up (``sas.cli.main``) has run: logging, sasmodels and Qt set up."""
    if not _state["attempted"]:
        try:
            install()
        except Exception as exc:  # noqa: BLE001 - never stop SasView
            disable(f"install failed: {type(exc).__name__}: {exc}")
    return _run_gui(files, run)


def install(card_path: str | None = None, required=REQUIRED) -> bool:
    """Register the perspectives and the GuiManager subclass of ``CONTRIBUTIONS``. Returns False
    (and logs one line) if SasView does not match; SasView then starts unchanged. Called by
    ``start``; the tests call it directly."""
    _state.update(enabled=False, reason="", logged=False, attempted=True)
    try:
        check_host(required)
        import sas.qtgui.MainWindow.GuiManager as gm_module
        import sas.qtgui.Perspectives as perspectives
        from sas.qtgui.Perspectives.perspective import Perspective

        base = gm_module.GuiManager
        if getattr(base, "_automodel_installed", False):  # installed twice: wrap SasView's own
            base = _state["original_gui_manager"] or base.__mro__[1]
        perspective_classes = {entry.name: make_perspective_class(Perspective, card_path, entry)
                               for entry in PERSPECTIVES}
        manager_cls = make_gui_manager_class(base)
    except HOST_ERRORS + (HostMismatch,) as exc:
        disable(str(exc))  # nothing was changed in SasView yet
        return False
    perspectives.PERSPECTIVES.update(perspective_classes)
    _state["original_gui_manager"] = base
    gm_module.GuiManager = manager_cls
    _state["enabled"] = True
    import os
    log.info("sasview-automodel: plugin installed in SasView %s (from %s)", sasview_version(),
             os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return True


def wrap_run_sasview(main_window_module) -> bool:
    """The ``plugin enable`` route (gui/autoload.py): make SasView's own ``run_sasview`` (in the
    just-imported ``sas.qtgui.MainWindow.MainWindow``) go through ``start``, which installs the
    plugin before the main window is built, unless the launcher already did. SasView's arguments
    (6.2: the files to load) reach its ``run_sasview`` unchanged. Returns False (one log line) if
    the module lacks ``run_sasview``."""
    import functools
    original = getattr(main_window_module, "run_sasview", None)
    if not callable(original):
        disable("sas.qtgui.MainWindow.MainWindow.run_sasview is missing")
        return False
    if getattr(original, "_automodel_wrapped", False):
        return True

    @functools.wraps(original)
    def run_sasview(*args, **kwargs):
        return start(run=functools.partial(original, *args, **kwargs))

    run_sasview._automodel_wrapped = True
    main_window_module.run_sasview = run_sasview
    return True


def _run_gui(files=(), run=None):
    """Run SasView's GUI (``run_sasview``). 6.1.x takes no arguments: the GuiManager subclass
    loads ``files`` once it exists; 6.2 takes the files to load."""
    if run is None:
        from sas.qtgui.MainWindow.MainWindow import run_sasview as run
    import inspect
    files = list(files)
    if files and inspect.signature(run).parameters:
        return run(files)
    if files:
        _state["pending_files"] = files  # loaded by the GuiManager subclass once it exists
    return run()


def sasview_installed() -> bool:
    """Whether SasView's own start-up (``sas.cli``) can be imported in this environment."""
    try:
        import sas.cli  # noqa: F401
    except ImportError:
        return False
    return True


def run_sasview_command(args) -> int:
    """Run SasView's own ``sasview`` command in this process (``sas.cli.main``: logging,
    sasmodels' SAS_DLL_PATH/SAS_OPENCL and Qt set up, then a script in ``args`` runs as
    ``__main__``, e.g. our launcher); returns its exit status."""
    import sas.cli
    sys.argv = ["sasview", *args]
    return int(sas.cli.main() or 0)


# --------------------------------------------------------------------------------------------
# Classes built on SasView's own (made at install time, so that importing this module never
# imports SasView)
# --------------------------------------------------------------------------------------------
def make_perspective_class(perspective_base, card_path: str | None = None,
                           entry: PerspectiveEntry = PERSPECTIVES[0]):
    """The perspective of ``entry`` ("Model Suggestion"): our panel plus SasView's Perspective mixin."""
    from .panel import SuggestionPanel

    class ModelSuggestionPerspective(SuggestionPanel, perspective_base):
        name = entry.name
        ext = entry.ext

        def __init__(self, parent=None, **kwargs):
            # parent is the GuiManager, not a QWidget: never pass it to Qt (ValueError).
            SuggestionPanel.__init__(self, host=None, card_path=card_path)
            self._allow_close = False
            self.setWindowTitle(self.title)
            try:
                self.set_host(SasViewHost(parent))
            except HOST_ERRORS as exc:
                disable(f"perspective set-up failed: {exc}")
                self.show_message("The model suggestion plugin is disabled: SasView does not match "
                                  f"({exc}).", error=True)

        @property
        def title(self):
            return entry.name

        def setData(self, data_item=None, is_batch=False, **kwargs):
            """Data Explorer "Send data": classify the first data set sent."""
            self.suggest_items(list(data_item or []))

        def updateFromParameters(self, params):
            pass  # nothing is saved in projects

        def setClosable(self, value=True):
            self._allow_close = bool(value)

        def isClosable(self):
            return self._allow_close

        def closeEvent(self, event):
            if self._allow_close:
                self._allow_close = False
                if self.parentWidget():
                    self.parentWidget().close()
                event.accept()
            else:
                event.ignore()  # like SasView's own perspectives: the window stays

    return ModelSuggestionPerspective


def make_gui_manager_class(base):
    """A GuiManager subclass that adds our actions once SasView's own __init__ is done."""

    class AutomodelGuiManager(base):
        _automodel_installed = True

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.automodel_host = None
            try:
                self.automodel_host = SasViewHost(self)
                self.automodel_host.add_actions()
                self.automodel_host.report_ready()
            except HOST_ERRORS as exc:
                disable(f"adding the actions failed: {exc}")
                _remove_perspective(self)
                return
            # The window is already visible here: start own logic from the event loop.
            from PySide6.QtCore import QTimer
            files = _state.pop("pending_files", None)
            if files:
                QTimer.singleShot(0, lambda: self.automodel_host.load_files(files))

    return AutomodelGuiManager


def _menu(gm, key: str):
    """The SasView menu that ``MenuAction.menu`` names (a key of ``MENUS``)."""
    if key == "data_explorer":
        return gm.filesWidget.context_menu
    if key == "analysis":
        return gm._workspace.menuAnalysis
    raise KeyError(f"no SasView menu {key!r} (MENUS: {', '.join(MENUS)})")


def _remove_perspective(gm) -> None:
    """Best effort after a late failure: hide our perspectives from SasView's lists."""
    for entry in PERSPECTIVES:
        try:
            gm.loadedPerspectives.pop(entry.name, None)
            combo = gm.filesWidget.cbFitting
            index = combo.findText(entry.name)
            if index >= 0:
                combo.blockSignals(True)
                combo.removeItem(index)
                combo.blockSignals(False)
        except Exception:  # noqa: BLE001 - never take SasView down
            pass


# --------------------------------------------------------------------------------------------
# The host object the panel talks to (a stand-in with the same methods is used in tests)
# --------------------------------------------------------------------------------------------
class SasViewHost:
    """Adapter from the panel to one running SasView (its GuiManager)."""

    def __init__(self, gui_manager):
        if gui_manager is None:
            raise AttributeError("no GuiManager given to the perspective")
        self.gm = gui_manager
        self.actions = []

    # -- set-up ---------------------------------------------------------------------------
    def add_actions(self) -> None:
        """Put the ``ACTIONS`` of ``CONTRIBUTIONS`` into SasView's menus."""
        from PySide6.QtGui import QAction, QKeySequence
        menus = [_menu(self.gm, entry.menu) for entry in ACTIONS]  # all first: a missing one adds nothing
        for entry, menu in zip(ACTIONS, menus):
            action = QAction(entry.text, menu)
            action.setObjectName(entry.object_name)
            action.setStatusTip(entry.status_tip)
            if entry.shortcut:
                action.setShortcut(QKeySequence(entry.shortcut))
            action.triggered.connect(getattr(self, entry.handler))
            if entry.separator_before:
                menu.addSeparator()
            menu.addAction(action)
            self.actions.append(action)

    def report_ready(self) -> None:
        """Log ONE line saying what the plugin put into this window (what users and support
        read, and what the user-route test checks), then one line per batch of data sets that
        arrive in the Data Explorer (File > Load, files given on the command line)."""
        gm, files = self.gm, self.gm.filesWidget
        parts = []
        for entry in PERSPECTIVES:
            where = []
            if entry.name in gm.loadedPerspectives:
                where.append("loaded")
            if files.cbFitting.findText(entry.name) >= 0:
                where.append("in the Data Explorer's perspective list")
            parts.append(f"perspective {entry.name!r} {' and '.join(where) or 'MISSING'}")
        for text in dict.fromkeys(entry.text for entry in ACTIONS):
            menus = [MENUS[entry.menu] for entry in ACTIONS if entry.text == text
                     and any(a.text() == text for a in _menu(gm, entry.menu).actions())]
            parts.append(f"action {text!r} in {' and '.join(menus) or 'NO menu'}")
        ours = {entry.name for entry in PERSPECTIVES}
        own = ", ".join(sorted(n for n in gm.loadedPerspectives if n not in ours))
        log.info("sasview-automodel: ready: %s; SasView's perspectives: %s", "; ".join(parts), own)
        files.model.rowsInserted.connect(self._on_rows_inserted)

    def _on_rows_inserted(self, parent, first, last) -> None:
        try:
            if parent.isValid():
                return  # a child row (a data set's details), not a data set
            model = self.gm.filesWidget.model
            names = [model.item(i).text() for i in range(first, last + 1) if model.item(i) is not None]
            if names:
                log.info("sasview-automodel: in the Data Explorer: %s (right-click: %r)", ", ".join(names),
                         ACTION_TEXT)
        except Exception:  # noqa: BLE001 - a log line must never disturb SasView
            pass

    def communicator(self):
        """GuiUtils.communicate in 6.1.3 (a method on the GuiManager), an attribute in 6.2."""
        c = getattr(self.gm, "communicator", None)
        if callable(c) and not hasattr(c, "statusBarUpdateSignal"):
            c = c()
        return c if c is not None else getattr(self.gm, "communicate", None)

    def status(self, text: str) -> None:
        try:
            self.communicator().statusBarUpdateSignal.emit(text)
        except HOST_ERRORS:
            pass

    # -- data -----------------------------------------------------------------------------
    def load_files(self, paths) -> list:
        """Load files into the Data Explorer (as File > Load does); returns the new items."""
        files = self.gm.filesWidget
        before = files.model.rowCount()
        files.loadComplete(files.readData(list(paths)))
        return [files.model.item(i) for i in range(before, files.model.rowCount())]

    def selected_items(self) -> list:
        """The right-clicked/current row of the Data Explorer, else the checked rows."""
        files = self.gm.filesWidget
        items = []
        try:
            view = files.current_view
            index = view.currentIndex()
            if index.isValid():
                proxy = view.model()
                item = proxy.sourceModel().itemFromIndex(proxy.mapToSource(index))
                while item is not None and item.parent() is not None:
                    item = item.parent()
                if item is not None and item.isCheckable():
                    items.append(item)
        except HOST_ERRORS:
            pass
        if not items:
            items = list(files.selectedItems())
        return items

    def data_from_item(self, item):
        from sas.qtgui.Utilities import GuiUtils
        return GuiUtils.dataFromItem(item)

    def item_name(self, item) -> str:
        try:
            return str(item.text())
        except HOST_ERRORS:
            return "data"

    # -- perspectives ---------------------------------------------------------------------
    def switch_to(self, name: str):
        """Show perspective ``name`` the way the Data Explorer combo does (combo kept in step)."""
        gm, files = self.gm, self.gm.filesWidget
        target = gm.loadedPerspectives[name]
        combo = getattr(files, "cbFitting", None)
        if combo is not None:
            index = combo.findText(name)
            if index >= 0 and index != combo.currentIndex():
                combo.setCurrentIndex(index)  # emits perspectiveChangedSignal -> perspectiveChanged
        if gm.perspective() is not target:
            gm.perspectiveChanged(name)
            files.onAnalysisUpdate(name)
        return target

    def on_suggest_action(self, checked=False) -> None:
        """ "Suggest model...": show our perspective and classify the selected data."""
        try:
            items = self.selected_items()
            panel = self.switch_to(PERSPECTIVE_NAME)
        except HOST_ERRORS as exc:
            log.error("sasview-automodel: cannot show the Model Suggestion panel: %s", exc)
            return
        panel.suggest_items(items)

    # -- hand-off to Fitting ----------------------------------------------------------------
    def open_in_fitting(self, item, suggestion, model: str) -> dict:
        """Switch to Fitting, send ``item`` to a free fit page and set it up with ``model`` as
        ``suggestion.to_sasview`` describes it (starting values, polydispersity, ``model@S`` when
        a structure factor is suggested) through ``setData``/``updateFromParameters``, with the
        category the page itself lists the model under. Returns the line_dict sent."""
        if item is None:
            raise ValueError("no Data Explorer item to send (data classified from outside SasView)")
        fit = self.switch_to(FITTING)
        data = self.data_from_item(item)
        fit.setData(data_item=[item], is_batch=False)
        # setData fills the first free tab, updateFromParameters acts on the current one:
        # make the tab that received our data the current one.
        tab = next((t for t in getattr(fit, "tabs", []) if getattr(t, "data", None) is data), None)
        if tab is not None and fit.indexOf(tab) >= 0:
            fit.setCurrentWidget(tab)
        widget = fit.currentFittingWidget
        if widget is None or getattr(widget, "data", None) is not data:
            raise RuntimeError("the Fitting page that received the data is not the current one")
        category = logic.find_category(model, widget.master_category_dict)
        if category is None:
            raise KeyError(f"model {model!r} is not listed in SasView's model categories")
        line = suggestion.to_sasview(model, category=category)
        structure = line.get("fitpage_structure", ["None"])[0]
        name = structure if structure != "None" else None
        fit.updateFromParameters(line)
        if name:
            self._set_choice_rows(widget, line)
        self.status(f"sasview-automodel: {model + ('@' + name if name else '')} set up in {FITTING}")
        return line

    @staticmethod
    def _set_choice_rows(widget, line: dict) -> None:
        """Make sure the P@S choice rows (radius_effective_mode, structure_factor_mode) took.

        SasView 6.1.3's ``updateFullModel`` skips the table row at ``_n_shells_row``, which after a
        structure factor was chosen points at one of these rows; so set the row's combo box (its
        index is the value, as SasView's own page does) where the model still has another value."""
        from ..product import MODE_PARAMETERS

        kernel = widget.logic.kernel_module
        for name in MODE_PARAMETERS:
            if name not in line or int(float(kernel.getParam(name))) == int(line[name][1], 0):
                continue
            row = widget.getRowFromName(name)
            view = widget.lstParams
            combo = view.indexWidget(view.model().index(row, 1)) if row is not None else None
            if combo is None:
                log.warning("sasview-automodel: could not set %s on the Fitting page", name)
                continue
            combo.setCurrentIndex(int(line[name][1], 0))
