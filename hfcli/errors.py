"""Errors a user can cause. The CLI prints their message on one line and exits non-zero."""


class HfcliError(Exception):
    """Base class: bad input or a state the user can fix. Never shown with a traceback."""


class PromptError(HfcliError, ValueError):
    """A prompt is empty, too long, or not understood by the guidance that must answer it."""


class CheckpointError(HfcliError):
    """A checkpoint file is missing, corrupt, or of the wrong kind."""


class EmptyMeshError(HfcliError):
    """Marching cubes found no surface at the requested threshold."""


class WriteError(HfcliError, OSError):
    """A file could not be written (disk full, permission, read-only file system); names the file."""


class Interrupted(HfcliError):
    """Stopped by SIGINT or SIGTERM (after saving what can be resumed): exits 128 + the signal."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum, self.exit_code = signum, 128 + signum
