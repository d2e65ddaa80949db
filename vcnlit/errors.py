"""Expected user errors end the program with one line, not a traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def user_errors() -> tuple[type[BaseException], ...]:
    from vcnlit.checkpoint import CheckpointError
    from vcnlit.codecs.container import BitstreamError
    from vcnlit.data.images import ImageError
    from vcnlit.stages.base import NonFiniteLossError
    from vcnlit.training import RunDirError

    return (ImageError, CheckpointError, BitstreamError, RunDirError, NonFiniteLossError)


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    """Known user errors print ``error: ...`` and exit 2 (set VCNLIT_DEBUG=1 for the traceback)."""
    try:
        yield
    except user_errors() as e:
        if os.environ.get("VCNLIT_DEBUG"):
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
