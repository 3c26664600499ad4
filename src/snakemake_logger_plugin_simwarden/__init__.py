"""``snakemake --logger simwarden``: a live view of a simwarden workflow.

Jobs done and in total with an ETA; for each running simulation its run id, attempt,
progress, memory against its limit and elapsed time (from the warden's samples file); each
failure with its cause as it happens; on a terminal redrawn in place, otherwise plain,
throttled lines. Installed with simwarden; Snakemake finds it by this package's name.
"""

from snakemake_logger_plugin_simwarden.handler import LogHandler
from snakemake_logger_plugin_simwarden.settings import LogHandlerSettings

__all__ = ["LogHandler", "LogHandlerSettings"]
