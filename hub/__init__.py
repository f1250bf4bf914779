"""The university integration hub.

Importing this package does nothing: no app is built, no logging is configured and
no connection is made. Use :func:`hub.app.create_app` to build the faust app and
the ``hub`` command line for everything else.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
