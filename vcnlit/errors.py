"""vcnlit's error hierarchy and the one place that turns an expected error into one line and exit code 2.

Every error a user can cause (a bad file, folder, config value or stream) derives from
:class:`VcnlitError`. Entry points run inside :func:`exit_on_user_error`, which prints
``error: <message>`` and exits with :data:`USER_ERROR_EXIT`; anything else is a bug and
keeps its traceback. This module imports nothing from vcnlit, so every module can import it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

#: exit status of a run stopped by an expected user error (Hydra and argparse use 1 and 2 too)
USER_ERROR_EXIT = 2


class VcnlitError(Exception):
    """An expected error a user can act on; its message is one line that says what to change."""


class ConfigError(VcnlitError, ValueError):
    """A configuration value that is not allowed, or a combination of values that cannot run."""


class ImageError(VcnlitError, ValueError):
    """An image file or folder that cannot be read as asked."""


class BitstreamError(VcnlitError, ValueError):
    """A vcnlit bitstream is malformed, truncated, corrupt or unsupported."""


class CheckpointError(VcnlitError, ValueError):
    """A model file that is missing, corrupt, not a vcnlit model or of an unsupported version."""


class RunDirError(VcnlitError, RuntimeError):
    """The run directory holds something this run must not overwrite, or cannot be run as asked."""


class SweepError(VcnlitError, ValueError):
    """A sweep folder or objective that cannot give what was asked."""


class NonFiniteLossError(VcnlitError, RuntimeError):
    """A loss became NaN or inf; the stage stops and the last good checkpoint stays."""


def check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``choices``.

    Args:
        name: the config key, as a user would write it (e.g. ``stages.end_to_end.module.rsn_gradient``).
        value: the value given.
        choices: the allowed values.
    """
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of {', '.join(map(str, choices))}")


def user_error(e: BaseException) -> BaseException | None:
    """The user error behind ``e``: ``e`` itself, or a :class:`VcnlitError` it was raised from
    (Hydra's ``instantiate`` wraps a constructor's error in its own exception)."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, VcnlitError):
            return e
        seen.add(id(e))
        e = e.__cause__
    return None


def one_line(e: BaseException) -> str:
    """``e``'s message with its white space folded onto one line."""
    return " ".join(str(e).split()) or type(e).__name__


@contextmanager
def exit_on_user_error(prog: str = "", also: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Print an expected error as ``[<prog>: ]error: <message>`` and exit :data:`USER_ERROR_EXIT`.

    Args:
        prog: the command name that starts the message (none by default).
        also: further exception types this entry point treats as user errors (a file command's
            ``OSError``, say). ``VCNLIT_DEBUG=1`` re-raises instead, with the traceback.
    """
    try:
        yield
    except Exception as e:
        err = user_error(e) or (e if isinstance(e, also) else None)
        if err is None or os.environ.get("VCNLIT_DEBUG"):
            raise
        print(f"{prog + ': ' if prog else ''}error: {one_line(err)}", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT)
