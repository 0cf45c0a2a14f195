"""The "Model Suggestion" panel: ranked models, confidence, outlier banner, shape family and plausible
models, data plot.

The panel knows nothing of SasView: it talks to a *host* object with the methods
``selected_items()``, ``data_from_item(item)``, ``item_name(item)`` and
``open_in_fitting(item, suggestion, model)`` (``host.SasViewHost`` in SasView, a stand-in in
tests; the Fitting page's dictionary is ``suggestion.to_sasview(model, category=...)``). Inference runs in a QThreadPool worker; the panel stays responsive.
"""
from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QSizePolicy, QVBoxLayout, QWidget)

from .. import catalog
from . import logic, worker

log = logging.getLogger("sasview_automodel.gui")

TOP_K = 5  # candidates shown (of the nine classes)


def _wrapping_label(object_name: str) -> QLabel:
    """An empty word-wrapping label with its object name (tests and style sheets find it by name)."""
    label = QLabel("")
    label.setWordWrap(True)
    label.setObjectName(object_name)
    return label


class SuggestionPanel(QWidget):
    """Shows a Suggestion for one data set and hands a chosen model over to Fitting."""

    suggestionReady = Signal(object)   # the Suggestion
    suggestionFailed = Signal(str)     # a message the user can read
    fittingOpened = Signal(str, dict)  # model, the line_dict sent to Fitting

    def __init__(self, host=None, card_path: str | None = None, parent=None):
        super().__init__(parent)
        self.host = host
        self.cache = logic.SuggesterCache(card_path)
        self.suggestion = None
        self.item = None
        self.data = None
        self._token = 0
        self.fit_buttons: dict[str, QPushButton] = {}
        self.plausible_marks: dict[str, QLabel] = {}   # model -> its rank label, marked plausible
        self._build()

    # -- construction ---------------------------------------------------------------------
    def _build(self) -> None:
        self.setObjectName("automodelPanel")
        self.setMinimumWidth(480)
        root = QVBoxLayout(self)

        head = QHBoxLayout()
        self.lblName = QLabel("No data: right-click a data set in the Data Explorer and choose "
                              "\u201cSuggest model...\u201d, or send data here.")
        self.lblName.setWordWrap(True)
        font = self.lblName.font()
        font.setBold(True)
        self.lblName.setFont(font)
        head.addWidget(self.lblName, 1)
        self.cmdSuggest = QPushButton("Suggest for selected data")
        self.cmdSuggest.setToolTip("Classify the data set selected (or checked) in the Data Explorer")
        self.cmdSuggest.clicked.connect(self.suggest_selected)
        head.addWidget(self.cmdSuggest)
        root.addLayout(head)

        self.lblStatus = _wrapping_label("automodelStatus")
        self.lblStatus.setMinimumHeight(2 * self.lblStatus.fontMetrics().lineSpacing())
        root.addWidget(self.lblStatus)

        self.lblOutlier = _wrapping_label("automodelOutlier")
        self.lblOutlier.setStyleSheet("QLabel { background: #ffb300; color: #000; padding: 6px; "
                                      "border: 1px solid #c67c00; font-weight: bold; }")
        self.lblOutlier.hide()
        root.addWidget(self.lblOutlier)

        conf = QHBoxLayout()
        conf.addWidget(QLabel("Confidence:"))
        self.lblConfidence = QLabel("\u2013")
        self.lblConfidence.setObjectName("automodelConfidence")
        self.lblConfidence.setMinimumWidth(140)
        self.lblConfidence.setAlignment(Qt.AlignCenter)
        conf.addWidget(self.lblConfidence)
        conf.addStretch(1)
        root.addLayout(conf)

        self.lblStructure = _wrapping_label("automodelStructure")
        self.lblStructure.setToolTip("Whether the curve needs a structure factor S(q) (concentrated sample); "
                                     "\u201cOpen in Fitting\u201d then sets up the product model P@S")
        self.lblStructure.hide()
        root.addWidget(self.lblStructure)

        self.lblFamily = _wrapping_label("automodelFamily")
        self.lblFamily.setToolTip("The shape family the data support, and the models the curve cannot tell apart "
                                  "(marked \u2713 below; each has its own \u201cOpen in Fitting\u201d button)")
        self.lblFamily.hide()
        root.addWidget(self.lblFamily)

        frame = QFrame()
        frame.setFrameShape(QFrame.StyledPanel)
        self.rankGrid = QGridLayout(frame)
        self.rankGrid.setColumnStretch(2, 1)
        # room for TOP_K rows from the start: SasView sizes the sub-window when it is first shown
        frame.setMinimumHeight(TOP_K * 38 + 12)
        root.addWidget(frame)

        self.lblNotes = QLabel("")
        self.lblNotes.setWordWrap(True)
        self.lblNotes.setStyleSheet("QLabel { color: #555; }")
        self.lblNotes.setMinimumHeight(3 * self.lblNotes.fontMetrics().lineSpacing())
        self.lblNotes.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        root.addWidget(self.lblNotes)

        self.canvas = None
        try:
            from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
            from matplotlib.figure import Figure
            self.figure = Figure(figsize=(5, 3.4), tight_layout=True)
            self.canvas = FigureCanvasQTAgg(self.figure)
            self.canvas.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
            self.canvas.setMinimumHeight(280)
            root.addWidget(self.canvas, 1)
        except Exception as exc:  # the panel works without a plot
            log.warning("sasview-automodel: no plot (%s)", exc)
            root.addStretch(1)

    def set_host(self, host) -> None:
        self.host = host

    # -- requests -------------------------------------------------------------------------
    def suggest_selected(self) -> None:
        if self.host is None:
            self.show_message("Not connected to SasView.", error=True)
            return
        self.suggest_items(self.host.selected_items())

    def suggest_items(self, items) -> None:
        """Classify the first of ``items`` (Data Explorer items)."""
        items = [i for i in (items or []) if i is not None]
        if not items:
            self.show_message("No data selected: check or right-click a 1D data set in the Data "
                              "Explorer first.", error=True)
            return
        item = items[0]
        try:
            data = self.host.data_from_item(item)
            name = self.host.item_name(item)
        except Exception as exc:  # noqa: BLE001 - host trouble is shown, never raised
            self.show_message(f"Cannot read this data set ({exc}).", error=True)
            return
        note = f" (the first of {len(items)} selected)" if len(items) > 1 else ""
        self.suggest_data(data, name, item=item, note=note)

    def suggest_data(self, data, name: str, item=None, note: str = "") -> None:
        """Classify a Data1D-like object (x, y, dy, dx or dxl) in a worker thread."""
        self._token += 1
        self.item, self.data, self.suggestion = item, data, None
        self.lblName.setText(f"{name}{note}")
        self._clear_result()
        self.show_message("Classifying\u2026")
        self._plot()
        task = worker.SuggestTask(self._token, data, name, self.cache)
        task.signals.finished.connect(self._on_finished)
        task.signals.failed.connect(self._on_failed)
        worker.start(task)

    # -- results (GUI thread) -------------------------------------------------------------
    def _on_finished(self, token: int, suggestion) -> None:
        if token != self._token:
            return  # superseded by a newer request
        self.suggestion = suggestion
        self.show_result(suggestion)
        self.suggestionReady.emit(suggestion)

    def _on_failed(self, token: int, message: str) -> None:
        if token != self._token:
            return
        self.show_message(message, error=True)
        self.suggestionFailed.emit(message)

    def show_message(self, text: str, error: bool = False) -> None:
        self.lblStatus.setText(text)
        self.lblStatus.setStyleSheet("QLabel { color: #b71c1c; font-weight: bold; }" if error else "")

    def _clear_result(self) -> None:
        while self.rankGrid.count():
            w = self.rankGrid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.fit_buttons = {}
        self.plausible_marks = {}
        self.lblOutlier.hide()
        self.lblStructure.hide()
        self.lblFamily.hide()
        self.lblConfidence.setText("\u2013")
        self.lblConfidence.setStyleSheet("")
        self.lblNotes.setText("")

    def show_result(self, s) -> None:
        self.suggestion = s  # the rows' "Open in Fitting" buttons hand this suggestion over
        self._clear_result()
        self.show_message("Ranked by calibrated probability. Choose a model to set up a fit page.")
        level, bg, fg = logic.confidence_level(s.confidence)
        self.lblConfidence.setText(f"{s.confidence:.0%} ({level})")
        self.lblConfidence.setStyleSheet(f"QLabel {{ background: {bg}; color: {fg}; padding: 3px 8px; "
                                         "border-radius: 3px; font-weight: bold; }")
        if s.outlier:
            self.lblOutlier.setText("\u26a0 Outlier: this curve is unlike anything the classifier was "
                                    f"trained on. {s.reason[:1].upper() + s.reason[1:]}.")
            self.lblOutlier.show()
        self._show_structure(s)
        family = logic.family_text(s)
        self.lblFamily.setText(family)
        self.lblFamily.setVisible(bool(family))
        plausible = list(getattr(s, "plausible_models", []) or [])
        structure = getattr(s, "structure_factor", None)
        product = f"@{structure.name}" if structure is not None and structure.name else ""
        for row, (model, p) in enumerate(s.top(max(TOP_K, len(plausible)))):   # every plausible model gets a row
            mark = model in plausible
            rank = QLabel(f"{row + 1}." + (" \u2713" if mark else ""))
            label = QLabel(catalog.get(model).label if model in catalog.BY_NAME else model)
            label.setToolTip(f"sasmodels: {model}" + ("; plausible: the data cannot rule it out" if mark else ""))
            if mark:
                rank.setObjectName(f"automodelPlausible_{model}")
                rank.setToolTip("plausible model: the curve cannot tell it apart from the other marked ones")
                bold = label.font()
                bold.setBold(True)
                label.setFont(bold)
                self.plausible_marks[model] = rank
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(int(round(1000 * p)))
            bar.setFormat(f"{p:.1%}")
            bar.setTextVisible(True)
            button = QPushButton("Open in Fitting")
            button.setObjectName(f"automodelOpen_{model}")
            button.setToolTip(f"Send this data to a Fitting page set up with the {model}{product} model")
            button.setEnabled(self.item is not None and self.host is not None)
            button.clicked.connect(lambda checked=False, m=model: self.open_in_fitting(m))
            for col, w in enumerate((rank, label, bar, button)):
                self.rankGrid.addWidget(w, row, col)
            self.fit_buttons[model] = button
        notes = [w for w in s.warnings if not w.startswith("starting parameters are not estimated")]
        if not s.parameters:
            notes.append("Starting parameters: not estimated in this version (the Fitting page "
                         "opens with SasView's defaults).")
        self.lblNotes.setText("\n".join(f"\u2022 {n}" for n in notes))
        self._plot()

    def _show_structure(self, s) -> None:
        """The structure-factor line (nothing when the bundle has no structure-factor head)."""
        structure = getattr(s, "structure_factor", None)
        text = logic.structure_text(structure)
        self.lblStructure.setText(text)
        self.lblStructure.setStyleSheet("QLabel { font-weight: bold; }" if structure is not None and structure.name
                                        else "")
        self.lblStructure.setVisible(bool(text))

    def _plot(self) -> None:
        """Log-log plot of the data with the quick-fitted top candidates overlaid (their refined
        starting parameters, on the data's own resolution)."""
        if self.canvas is None:
            return
        self.figure.clear()
        ax = self.figure.add_subplot(111)
        try:
            x = np.asarray(self.data.x, float)
            y = np.asarray(self.data.y, float)
            dy = getattr(self.data, "dy", None)
            ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
            if ok.sum() < 2:
                raise ValueError("fewer than two positive points")
            if dy is not None and np.size(dy) == np.size(y):
                dy = np.asarray(dy, float)
                ax.errorbar(x[ok], y[ok], yerr=np.where(np.isfinite(dy[ok]), dy[ok], 0), fmt="o", ms=3,
                            color="#1565c0", ecolor="#90caf9", lw=0.8, label="data")
            else:
                ax.plot(x[ok], y[ok], "o", ms=3, color="#1565c0", label="data")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("Q (1/\u00c5)")
            ax.set_ylabel("I(Q)")
            if self.suggestion is not None:
                ax.set_title(f"best: {self.suggestion.best} ({self.suggestion.ranking[0][1]:.0%})", fontsize=9)
                for model, fit in getattr(self.suggestion, "fits", {}).items():
                    if fit.q is not None and fit.curve is not None and np.all(fit.curve > 0):
                        name = model + (f"@{fit.structure_factor}" if getattr(fit, "structure_factor", None) else "")
                        ax.plot(fit.q, fit.curve, "-", lw=1.6, zorder=5, label=f"{name} (chi2 {fit.chi2_reduced:.3g})")
                if getattr(self.suggestion, "fits", None):
                    ax.legend(fontsize=7, loc="lower left")
        except Exception:  # noqa: BLE001 - nothing to plot (bad data): the message says why
            self.figure.clear()
            ax = self.figure.add_subplot(111)
            ax.set_axis_off()
            ax.text(0.5, 0.5, "nothing to plot on log-log axes", ha="center", va="center",
                    transform=ax.transAxes, color="#777")
        self.canvas.draw_idle()

    # -- hand-off -------------------------------------------------------------------------
    def open_in_fitting(self, model: str) -> bool:
        """Send the data to a Fitting page set up with ``model`` (and parameters, if any), as the
        product ``model@S`` when a structure factor is suggested."""
        if self.host is None or self.item is None:
            self.show_message("This data set is not in the Data Explorer; load it there first.", error=True)
            return False
        if self.suggestion is None:
            self.show_message("Nothing suggested for this data set yet.", error=True)
            return False
        try:
            line = self.host.open_in_fitting(self.item, self.suggestion, model)
        except Exception as exc:  # noqa: BLE001 - shown in the panel, SasView keeps running
            log.error("sasview-automodel: could not open %s in Fitting: %s", model, exc)
            self.show_message(f"Could not open {model} in Fitting: {exc}", error=True)
            return False
        self.fittingOpened.emit(model, dict(line or {}))
        return True
