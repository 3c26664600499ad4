"""Save a script's matplotlib figures: put ``import simwarden.autosave`` at the top of it.

Every pyplot figure is saved when it is closed (``plt.close``, its window closed) or, if still
open, when the script ends (also by ``sys.exit``, an uncaught exception, or a signal handler that
raises SystemExit; not by ``os._exit`` or SIGKILL), to ``<dir>/<fmt>/<name>.<fmt>``. Environment:

- ``SIMWARDEN_FIGURES_DIR``: ``<dir>``; default ``figures`` in the working directory at import.
- ``SIMWARDEN_FIGURE_FORMATS``: comma-separated, from png, pdf, svg; default ``png``; empty = none.
- ``SIMWARDEN_SAVE_FIGURES=0``: save nothing.
- ``SIMWARDEN_SHOW_FIGURES=0``: ``plt.show()`` returns at once without a window or a warning (Agg
  backend); default 1: ``plt.show()`` behaves as usual, and a window closed by hand is saved.

Provenance in each file: the script, and the repository and commit of its directory when it is a
git work tree (else null). Under the simwarden pipeline (whose hook already did this) the import
changes nothing: the first installation in a process wins, so nothing is saved twice.
"""

from simwarden.results.figures import install_autosave

install_autosave()
