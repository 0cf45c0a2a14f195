"""SasView plugin of sasview-automodel (a "Model Suggestion" perspective and actions).

SasView 6 has no plugin API: SasView runs our launcher script (``sasview launcher.py``), which
installs the plugin and starts the GUI (see ``launcher.py`` and docs/install.md).

Layout (Qt is imported only inside this package, SasView only inside ``host.py``):

* ``logic.py``   Qt-free: Data1D -> Curve, the Fitting ``line_dict``, display helpers.
* ``host.py``    the ONE shim that calls into SasView (``sas.qtgui``); fails safe.
* ``panel.py``   the panel widget (Qt + matplotlib), talks to SasView only through a host.
* ``worker.py``  inference off the GUI thread (QThreadPool).
* ``launcher.py`` the script SasView runs; ``cli_entry.py`` backs ``sasview-automodel gui``.
* ``deploy.py``  ``enable``/``disable``/``status`` (the plain ``sasview`` loads the plugin) and
  the official-bundle launcher; ``autoload.py`` is the standard-library-only start-up hook that
  ``enable`` copies into site-packages; ``bundle_launch.py`` is the bundle's ``launch.py``.
"""
