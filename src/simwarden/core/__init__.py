"""The foundation every wing may import: user errors and exit codes, the logger, sizes and
durations, atomic file writes. Stdlib only; imports nothing else from simwarden."""
