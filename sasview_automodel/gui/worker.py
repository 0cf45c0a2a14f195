"""Inference off the GUI thread: a QRunnable on the global QThreadPool.

The worker converts the data, runs the classifier and emits either ``finished(token,
suggestion)`` or ``failed(token, message)`` (queued to the GUI thread by Qt). The token lets
the panel ignore results of a request that a newer one superseded.
"""
from __future__ import annotations

import logging
import traceback

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ..errors import AutomodelError
from . import logic

log = logging.getLogger(__name__)


class _Signals(QObject):
    finished = Signal(int, object)
    failed = Signal(int, str)


class SuggestTask(QRunnable):
    """Classify one data set; ``data`` is a Data1D (or anything ``curve_from_data`` takes)."""

    def __init__(self, token: int, data, name: str, cache: logic.SuggesterCache):
        super().__init__()
        self.token, self.data, self.name, self.cache = token, data, name, cache
        self.signals = _Signals()
        self.setAutoDelete(True)

    def run(self):  # runs in a pool thread
        try:
            curve = logic.curve_from_data(self.data, self.name)
            suggestion = self.cache.suggest(curve)
        except AutomodelError as exc:
            self.signals.failed.emit(self.token, str(exc))
        except Exception as exc:  # never let a worker exception reach SasView
            log.error("sasview-automodel: suggestion failed: %s\n%s", exc, traceback.format_exc())
            self.signals.failed.emit(self.token, f"unexpected error ({type(exc).__name__}: {exc}); "
                                                 "see the SasView log for details")
        else:
            self.signals.finished.emit(self.token, suggestion)


def start(task: SuggestTask) -> None:
    QThreadPool.globalInstance().start(task)
