"""torchac's coder is built at install and loaded from the environment: no compiler or cache at run time."""

import subprocess
import sys

import pytest

from vcnlit.codecs.entropy import backend

ROUND_TRIP = """
import torch
from vcnlit.codecs.entropy.coder import load_torchac
tac = load_torchac()
cdf = torch.tensor([[0, 20000, 30000, -1]] * 5, dtype=torch.int16)
sym = torch.tensor([0, 2, 1, 1, 0], dtype=torch.int16)
assert torch.equal(tac.decode_int16_normalized_cdf(cdf, tac.encode_int16_normalized_cdf(cdf, sym)), sym)
print("ok")
"""


def test_loads_without_compiler_or_home_cache(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": str(tmp_path / "nothing"), "WANDB_MODE": "disabled"}  # no g++, no ninja
    out = subprocess.run([sys.executable, "-c", ROUND_TRIP], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n" and out.stderr == ""
    assert not any(home.iterdir())  # nothing cached in the home folder


def test_library_lives_in_the_environment():
    assert backend.library().is_relative_to(sys.prefix)
    assert backend.library().is_file()


def test_missing_build_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(backend, "library", lambda: tmp_path / "torchac_backend.so")
    with pytest.raises(backend.BackendMissingError, match="make install") as e:
        backend._load_library()
    assert "\n" not in str(e.value)
