"""The RD callback with every logger: real bitstreams in, scalars / table / plot out."""

import json

import pytest
import pytorch_lightning as pl
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger, WandbLogger

from vcnlit.callbacks import RDCallback
from vcnlit.codecs import StandardCodec
from vcnlit.data import ImageDataModule
from vcnlit.nets import ResamplingSystem
from vcnlit.stages import AutoencoderStage

KEY = "autoencoder/val_rd/psnr@quality=10"


def fit(image_dirs, tmp_path, logger):
    system = ResamplingSystem(channels=1, scale=2, width=8, rsn_depth=1, idn_depth=1, outer_kernel=3)
    codec = StandardCodec("jpeg", quality=20)
    stage = AutoencoderStage(system, codec, train_rates=[10, 40])
    dm = ImageDataModule(**{f"{k}_dir": str(v) for k, v in image_dirs.items()}, channels=1, patch_size=32,
                         batch_size=2, steps_per_epoch=2)
    cb = RDCallback(tmp_path / "rd", rate_points=[10, 40], every_n_epochs=1, baseline_points=[10, 50])
    trainer = pl.Trainer(max_epochs=1, logger=logger, callbacks=[cb], enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         log_every_n_steps=1, default_root_dir=str(tmp_path))
    trainer.fit(stage, datamodule=dm)
    rd = json.loads((tmp_path / "rd" / "rd_autoencoder_val_e000.json").read_text())
    assert rd["results"]["quality"] == [10, 40] and len(rd["results"]["bpp"]) == 2
    assert rd["meta"]["images"] == [p.name for p in sorted(image_dirs["val"].iterdir())]
    assert 0 < rd["results"]["bpp"][0] < rd["results"]["bpp"][1]
    assert (tmp_path / "rd" / "rd_autoencoder_val_e000.png").stat().st_size > 0
    test = cb.evaluate(trainer, stage, "test")  # the same evaluation on the test split
    assert len(test["results_by_image"]) == len(list(image_dirs["test"].iterdir()))
    return trainer


def test_no_logger(image_dirs, tmp_path):
    fit(image_dirs, tmp_path, False)


def test_csv_logger(image_dirs, tmp_path):
    fit(image_dirs, tmp_path, CSVLogger(tmp_path, name="csv"))
    header = next((tmp_path / "csv").rglob("metrics.csv")).read_text().splitlines()[0]
    assert KEY in header and "autoencoder/val_rd/bpp@quality=40" in header


def test_tensorboard_logger(image_dirs, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    fit(image_dirs, tmp_path, TensorBoardLogger(tmp_path, name="tb"))
    events = EventAccumulator(str(next((tmp_path / "tb").rglob("events.out.*")).parent))
    events.Reload()
    assert KEY in events.Tags()["scalars"]
    assert "autoencoder/val_rd/rd_plot" in events.Tags()["images"]


def test_wandb_offline_logger(image_dirs, tmp_path, monkeypatch):
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    logger = WandbLogger(project="vcnlit-test", save_dir=str(tmp_path), offline=True)
    try:
        fit(image_dirs, tmp_path, logger)
    finally:
        wandb.finish()
        wandb.teardown()  # stop this process's W&B service
    run_dir = next((tmp_path / "wandb").glob("offline-run-*"))
    tables = list(run_dir.rglob("rd_table*.table.json"))
    assert tables, f"no RD table in {run_dir}"
    table = json.loads(tables[0].read_text())
    assert table["columns"][:3] == ["method", "rate", "bpp"]
    assert {r[0] for r in table["data"]} == {"autoencoder", "jpeg"}


@pytest.mark.parametrize("epochs,every,due", [(10, 5, [4, 9]), (3, 5, [2]), (4, 1, [0, 1, 2, 3]),
                                               (3, None, [0, 1, 2]), (60, 20, [19, 39, 59]), (15, 20, [14])])
def test_every_n_epochs(epochs, every, due):
    cb = RDCallback("unused", every_n_epochs=every)

    class T:
        max_epochs = epochs

    hits = []
    for e in range(epochs):
        T.current_epoch = e
        if cb._due(T):
            hits.append(e)
    assert hits == due
