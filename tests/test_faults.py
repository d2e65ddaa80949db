"""A loss that turns NaN stops the stage with one line; finished stages and the last good checkpoint stay."""

import pytest
import torch
from conftest import data_overrides, run_module


@pytest.mark.slow
def test_nan_loss_stops_with_one_line(image_dirs, tmp_path):
    run = tmp_path / "run"
    r = run_module("vcnlit.run", "+experiment=scic_lowres", "debug=smoke", "logger=none",
                   "stages.imitation.module.lr=1e38", f"hydra.run.dir={run}", *data_overrides(image_dirs))
    assert r.returncode == 2, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: stage ImitationStage: loss") and "at step" in last
    assert "Traceback" not in r.stderr
    assert (run / "stages" / "autoencoder" / "done.pt").is_file()
    assert not (run / "model.ckpt").exists()
    for last in (run / "stages").rglob("last.ckpt"):  # every checkpoint left is a good one
        ckpt = torch.load(last, map_location="cpu", weights_only=False)
        assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())
