"""Lightning callbacks of vcnlit."""

from vcnlit.callbacks.rd import RDCallback

__all__ = ["RDCallback"]
