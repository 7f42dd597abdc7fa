"""Errors a user can cause. The CLI prints their message on one line and exits non-zero."""


class HfcliError(Exception):
    """Base class: bad input or a state the user can fix. Never shown with a traceback."""


class PromptError(HfcliError, ValueError):
    """A prompt is empty, too long, or not understood by the guidance that must answer it."""


class CheckpointError(HfcliError):
    """A checkpoint file is missing, corrupt, or of the wrong kind."""


class EmptyMeshError(HfcliError):
    """Marching cubes found no surface at the requested threshold."""
