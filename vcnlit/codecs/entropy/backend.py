"""torchac's C++ arithmetic coder, built once at install into the Python environment and loaded from there.

torchac compiles its backend with ``torch.utils.cpp_extension.load`` on its first import, into a cache
in the home folder, which needs g++ and ninja at run time and rebuilds whenever another environment
shares the cache. vcnlit builds the same source once, at install (``make install`` runs
``python -m vcnlit.codecs.entropy.build``), into this environment's own folder
(``<sys.prefix>/share/vcnlit/``, keyed by the torch version and the source's hash), and loads the
built library from there: no compiler, ninja or cache at run time, in any shell or working folder.
torchac's own Python functions (:func:`load_torchac`) then run over that library.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from vcnlit.errors import VcnlitError

NAME = "torchac_backend"
INSTALL_HINT = "run `make install`, or `python -m vcnlit.codecs.entropy.build` in this environment"


class BackendMissingError(VcnlitError):
    """torchac's compiled coder is not built for this environment."""


def _source() -> Path:
    spec = importlib.util.find_spec("torchac")
    if spec is None or not spec.submodule_search_locations:
        raise BackendMissingError(f"torchac is not installed; {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "backend" / f"{NAME}.cpp"


def build_dir() -> Path:
    """This environment's folder for the build: one per torch version and torchac source."""
    import torch

    digest = hashlib.sha256(_source().read_bytes()).hexdigest()[:12]
    return Path(sys.prefix) / "share" / "vcnlit" / f"{NAME}-torch{torch.__version__}-{digest}"


def library() -> Path:
    """The built library's path (it may not exist yet)."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[-1]  # ".so" (what cpp_extension names it)
    return build_dir() / f"{NAME}{suffix}"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hold back what the compiler and ninja write (stdout and stderr, child processes too): it reaches
    stderr only when the build fails."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as log:
        try:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            yield
        except BaseException:
            os.dup2(saved[1], 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def build() -> Path:
    """Compile torchac's backend into :func:`build_dir` (about 25 s; a no-op when it is up to date)."""
    from torch.utils.cpp_extension import load

    out = build_dir()
    out.mkdir(parents=True, exist_ok=True)
    with _quiet():
        load(name=NAME, sources=[str(_source())], build_directory=str(out), verbose=False)
    return library()


def _load_library() -> ModuleType:
    path = library()
    if not path.is_file():
        raise BackendMissingError(f"torchac's coder is not built for this environment ({sys.prefix}); {INSTALL_HINT}")
    import torch  # noqa: F401  (the library links against torch's, loaded first)

    spec = importlib.util.spec_from_file_location(NAME, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_torchac() -> ModuleType:
    """The torchac module, its backend the library built at install (never compiled at run time).

    Raises:
        BackendMissingError: the library is not built for this environment (one line: how to build it).
    """
    if "torchac.torchac" not in sys.modules:
        backend = _load_library()
        # torchac.torchac builds its backend at import through cpp_extension.load: it gets the built library
        # from a stand-in instead (the real cpp_extension imports setuptools: time at every start-up)
        name = "torch.utils.cpp_extension"
        real = sys.modules.get(name)
        stand_in = ModuleType(name)
        stand_in.load = lambda *args, **kwargs: backend  # type: ignore[attr-defined]
        sys.modules[name] = stand_in
        try:
            import torchac.torchac
        finally:
            if real is None:
                del sys.modules[name]
            else:
                sys.modules[name] = real
    import torchac

    return torchac

