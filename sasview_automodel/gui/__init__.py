"""SasView plugin of sasview-automodel (a "Model Suggestion" perspective and actions).

SasView 6 has no plugin API: SasView runs our launcher script (``sasview launcher.py``), which
installs the plugin and starts the GUI (see ``launcher.py`` and docs/install.md).

Layout (Qt is imported only inside this package, SasView only inside ``host.py``):

* ``host.py``    the ONE shim that calls into SasView (``sas.*``); fails safe. ``host.start`` is the
  one entry every route ends in; ``host.CONTRIBUTIONS`` the table of what the plugin adds.
* ``logic.py``   Qt-free: Data1D -> Curve, categories, display helpers.
* ``panel.py``   the panel widget (Qt + matplotlib), talks to SasView only through a host.
* ``worker.py``  inference off the GUI thread (QThreadPool).
* ``launcher.py`` the script SasView runs (``sasview-automodel gui``; copied as a bundle's
  ``launch.py``).
* ``deploy.py``  ``sasview-automodel plugin enable|disable|status|bundle``; ``autoload.py`` is the
  standard-library-only start-up hook that ``plugin enable`` copies into site-packages.
"""
