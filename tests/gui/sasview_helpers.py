"""Test helpers that read or reset the real SasView (moved out of the package: only tests use them)."""
from __future__ import annotations

from sasview_automodel.gui import host


def fitting_state(gm) -> dict:
    """What the current Fitting page of GuiManager ``gm`` shows: category, model, structure factor,
    data name, parameter values (``<p>.width`` for polydispersity), the page and the perspective."""
    fit = gm.loadedPerspectives[host.FITTING]
    w = fit.currentFittingWidget
    kernel = w.logic.kernel_module
    params = {}
    if kernel is not None:
        params = {k: kernel.getParam(k) for k in kernel.params}
        params.update({f"{k}.width": d.get("width") for k, d in getattr(kernel, "dispersion", {}).items()})
    return {"category": w.cbCategory.currentText(), "model": w.cbModel.currentText(),
            "structure": w.cbStructureFactor.currentText(),
            "data": getattr(getattr(w, "data", None), "name", None), "parameters": params,
            "widget": w, "perspective": fit}


def all_items(gm) -> list:
    """Every data set (top-level row) in the Data Explorer of ``gm``."""
    model = gm.filesWidget.model
    return [model.item(i) for i in range(model.rowCount())]


def uninstall() -> None:
    """Undo ``host.install`` in this process: SasView's perspective registry and GuiManager as
    shipped. Never raises."""
    try:
        import sas.qtgui.MainWindow.GuiManager as gm_module
        import sas.qtgui.Perspectives as perspectives
        for entry in host.PERSPECTIVES:
            perspectives.PERSPECTIVES.pop(entry.name, None)
        if host._state["original_gui_manager"] is not None:
            gm_module.GuiManager = host._state["original_gui_manager"]
    except host.HOST_ERRORS:
        pass
    host._state["original_gui_manager"] = None
    host._state["enabled"] = False
