"""Every experiment composes, and its parts instantiate."""

from pathlib import Path

import pytest
from conftest import ROOT
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import OmegaConf, open_dict

from vcnlit.stages import Stage
from vcnlit.sweeps import register_resolvers

#: the paper's four settings: standard codec (SCIC) or block DCT + torchac (DNNC), half or full size
PAPER = ["dnnc_fullres", "dnnc_lowres", "scic_fullres", "scic_lowres"]
#: ... and each of them on colour photos
#: ... and longer recipes
LONGER = ["scic_lowres_long", "scic_lowres_rgb_long"]
CHROMA = ["scic_lowres_rgb_chroma", "scic_fullres_rgb_chroma"]  # chroma steps for RGB PSNR
PHOTOS = ["scic_lowres_rgb_photos", "scic_fullres_rgb_photos"]  # ... and more colour photos: the colour default
AVIF = ["scic_fullres_rgb_avif", "scic_fullres_avif"]  # AVIF as the standard codec
#: experiments that are another one with one setting changed: (base, key, its value, the base's)
DERIVED = {
    "scic_lowres_rgb_photos": ("scic_lowres_rgb_chroma", "data.more_photos", True, False),
    "scic_fullres_rgb_photos": ("scic_fullres_rgb_chroma", "data.more_photos", True, False),
    "scic_fullres_rgb_deep": ("scic_fullres_rgb_photos", "model.block", "residual", "plain"),
    "scic_lowres_rgb_upscaled": ("scic_lowres_rgb_photos", "data.upscale", 1.6, 1.0),
    "scic_lowres_rgb_dilated": ("scic_lowres_rgb_upscaled", "model.idn_dilation", [1, 2, 4, 2], None),
    "scic_lowres_photos": ("scic_lowres_long", "data.more_photos", True, False),
    "scic_fullres_photos": ("scic_fullres", "data.more_photos", True, False),
}
EXPERIMENTS = sorted({*PAPER, *(f"{e}_rgb" for e in PAPER), *LONGER, *CHROMA, *PHOTOS, *AVIF, *DERIVED})


def _compose(overrides):
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.run_dir = "unused"
    return cfg


def test_all_experiments_exist():
    """conf/experiment holds exactly the settings the tests below run over."""
    assert sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml")) == EXPERIMENTS


@pytest.mark.parametrize("exp", EXPERIMENTS)
@pytest.mark.parametrize("debug", [[], ["debug=smoke"]])
def test_experiment_composes_and_instantiates(exp, debug, tmp_path):
    cfg = _compose([f"+experiment={exp}", *debug])
    assert cfg.experiment_name == exp
    system = instantiate(cfg.model)
    assert system.channels == (3 if "_rgb" in exp else 1)
    codec = instantiate(cfg.codec)
    assert system.scale == (2 if "lowres" in exp else 1)
    assert codec.mode == exp.split("_")[0]
    dm = instantiate(cfg.data)
    assert dm.channels == system.channels
    for name in cfg.stages.order:
        stage = instantiate(cfg.stages[name].module, system=system, codec=codec)
        assert isinstance(stage, Stage)
    assert instantiate(cfg.trainer, max_epochs=1, logger=False).max_epochs == 1


@pytest.mark.parametrize("logger", ["wandb", "csv", "tensorboard", "none"])
def test_logger_choices_compose(logger):
    cfg = _compose([f"logger={logger}"])
    if logger == "none":
        assert not cfg.logger
    else:
        assert "_target_" in cfg.logger


@pytest.mark.parametrize("exp", EXPERIMENTS)
def test_smoke_and_command_line_beat_the_experiment(exp):
    """An experiment picks its model/stages presets, but debug=smoke and the user's overrides win over them."""
    smoke = _compose([f"+experiment={exp}", "debug=smoke"])
    assert {smoke.stages[n].steps for n in smoke.stages.order} == {3} and smoke.model.rsn_depth == 1
    full = _compose([f"+experiment={exp}"])
    lowres = "lowres" in exp
    assert full.stages.autoencoder.steps == (1500 if lowres else 300) and full.model.rsn_depth == (6 if lowres else 3)
    mine = _compose([f"+experiment={exp}", "model=paper", "stages.imitation.steps=7"])
    assert mine.model.rsn_depth == 4 and mine.model.width == 128 and mine.stages.imitation.steps == 7
    assert mine.model.scale == (2 if lowres else 1)


def test_paper_preset_and_rgb():
    cfg = _compose(["+experiment=scic_lowres", "model=paper", "model.channels=3"])
    system = instantiate(cfg.model)
    assert system.hparams["width"] == 128 and system.channels == 3
    assert cfg.data.channels == 3


def test_a_bare_run_does_not_borrow_an_experiment_name():
    assert _compose([]).experiment_name == "default"


#: what a colour experiment sets apart from channels and name: scic_lowres_rgb keeps the paper's
#: end-to-end objective (conf/stages/lowres.yaml), scic_lowres has the rate-aware log objective
COLOUR_RECIPE = {"scic_lowres": {"lr": 2.0e-5, "rd_domain": "linear", "rate_weight": 0.0}}


def test_colour_experiments_differ_from_theirs_only_in_channels_name_and_stated_recipe():
    for exp in PAPER:
        gray = OmegaConf.to_container(_compose([f"+experiment={exp}"]), resolve=False)
        rgb = OmegaConf.to_container(_compose([f"+experiment={exp}_rgb"]), resolve=False)
        for cfg in (gray, rgb):
            cfg.pop("hydra")
            cfg.pop("experiment_name")
        for key, value in COLOUR_RECIPE.get(exp, {}).items():
            assert rgb["stages"]["end_to_end"]["module"].pop(key) == value
            assert gray["stages"]["end_to_end"]["module"].pop(key) != value
        assert rgb["model"].pop("channels") == 3 and gray["model"].pop("channels") == 1
        assert rgb == gray, exp


def test_seed_is_top_level():
    assert _compose([]).seed == 12345
    assert Path(ROOT / "conf" / "debug" / "smoke.yaml").exists()


def test_steps_scale_multiplies_every_stage():
    """scic_lowres' stages are 1500 / 6000 / 500 steps."""
    from vcnlit.errors import ConfigError
    from vcnlit.training import stage_steps

    cfg = _compose(["+experiment=scic_lowres", "stages.steps_scale=0.25"])
    assert [stage_steps(cfg, n) for n in cfg.stages.order] == [375, 1500, 125]
    smoke = _compose(["+experiment=scic_lowres", "debug=smoke", "stages.steps_scale=0.1"])
    assert stage_steps(smoke, "imitation") == 1  # never below one batch
    with pytest.raises(ConfigError, match="steps_scale"):
        stage_steps(_compose(["+experiment=scic_lowres", "stages.steps_scale=0"]), "imitation")


@pytest.mark.parametrize("preset", sorted(p.stem for p in (ROOT / "conf" / "model").glob("*.yaml")))
def test_model_presets_compose_and_run(preset):
    """Every `model=...` preset builds a system that codes an image at both scales of the experiments."""
    import torch

    for exp in ("scic_lowres", "scic_fullres"):
        cfg = _compose([f"+experiment={exp}", f"model={preset}", "model.width=8"])
        system = instantiate(cfg.model)
        x = torch.rand(1, 1, 16, 16)
        y = system.rsn(x)
        assert y.shape[-1] == 16 // cfg.model.scale
        assert system.restore(y, torch.ones(1)).shape == x.shape


def test_residual_lowres_preset_is_cpu_lowres_with_residual_blocks():
    """model=cpu_lowres_residual changes cpu_lowres's hidden layers and up-sampling, nothing else."""
    plain, residual = (_compose(["+experiment=scic_lowres", f"model={p}"]).model
                       for p in ("cpu_lowres", "cpu_lowres_residual"))
    assert (residual.block, residual.upsample) == ("residual", "pixel_shuffle")
    assert {k: v for k, v in residual.items() if k not in ("block", "upsample")} == \
        {k: v for k, v in plain.items() if k not in ("block", "upsample")}


@pytest.mark.parametrize("base", ["scic_lowres", "scic_lowres_rgb"])
def test_long_recipe_is_its_base_with_twice_the_steps(base):
    """+experiment=<base>_long = <base> (residual nets) + stages.steps_scale=2."""
    long = OmegaConf.to_container(_compose([f"+experiment={base}_long"]), resolve=False)
    same = OmegaConf.to_container(_compose([f"+experiment={base}", "stages.steps_scale=2"]), resolve=False)
    for cfg in (long, same):
        cfg.pop("hydra")
    assert long.pop("experiment_name") == f"{base}_long" and same.pop("experiment_name") == base
    assert long == same and long["model"]["block"] == "residual"


@pytest.mark.parametrize("exp", sorted(DERIVED))
def test_derived_experiments_differ_from_their_base_in_one_setting(exp):
    """E.g. ``*_photos`` = the chroma experiment it names + the extra natural colour photos (data.more_photos)."""
    base, key, value, before = DERIVED[exp]
    new = OmegaConf.to_container(_compose([f"+experiment={exp}"]), resolve=False)
    old = OmegaConf.to_container(_compose([f"+experiment={base}"]), resolve=False)
    group, name = key.split(".")
    for cfg in (new, old):
        cfg.pop("hydra")
        cfg.pop("experiment_name")
    assert new[group].pop(name) == value and old[group].pop(name, None) == before  # None: the base has no such key
    assert new == old, exp
