"""Every flagfile parses with the apps' flags into a valid config."""

import dataclasses
import glob
import os
import re

import pytest
from absl import flags

from has_tf import config as config_lib
from has_tf import datasets
from has_tf import methods

FILES = sorted(
    glob.glob(os.path.join("flags", "*.cfg"))
    + glob.glob(os.path.join("flags", "wsol", "*.cfg"))
    + glob.glob(os.path.join("flags", "wtal", "*.cfg"))
    + glob.glob(os.path.join("flags", "actions", "*.cfg"))
)


def test_overrides_and_bad_files(tmp_path):
    config = config_lib.train_config_from_flagfile(
        "flags/quickstart.cfg", epochs=1
    )
    assert config.epochs == 1 and config.patch_sizes == (0, 8, 16, 24)
    bad = tmp_path / "bad.cfg"
    bad.write_text("--hide_prob=2\n")
    with pytest.raises(flags.IllegalFlagValueError, match="hide_prob"):
        config_lib.train_config_from_flagfile(str(bad))
    bad.write_text("--no_such_flag=1\n")
    with pytest.raises(flags.UnrecognizedFlagError, match="no_such_flag"):
        config_lib.train_config_from_flagfile(str(bad))


def test_there_are_experiment_files():
    names = {os.path.basename(f) for f in FILES}
    for name in (
        "quickstart.cfg",
        "quickstart_baseline.cfg",
        "alexnet_gap.cfg",
        "alexnet_has_mixed.cfg",
        "googlenet_has_32.cfg",
        "alexnet_has_conv1_11.cfg",
        "alexnet_gmp_has_56.cfg",
        "alexnet_has_56_p75.cfg",
        "cub_googlenet_has_mixed.cfg",
        "alexnet_dropout_trainonly.cfg",
        "alexnet_dropout_traintest.cfg",
    ):
        assert name in names


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_flagfile_gives_a_valid_config(path):
    text = open(path).read()
    if not os.path.basename(path).startswith("base_"):
        assert "# Run:  python -m has_tf.train --flagfile=" + path in text
        assert "Paper" in text.split("\n--", 1)[0]
    config = config_lib.train_config_from_flagfile(path, model_dir="unused")
    methods.resolve(
        config, "videos" if datasets.is_video(config.dataset) else "images"
    )
    # PSOL's DDT source is the pretrained backbone itself: no step.
    assert config.epochs >= 1 or ("_ddt_" in path and config.init_from)
    if "_has_" in path and "conv1" not in path:
        assert config.patch_sizes
    wsol = os.path.dirname(path).endswith("wsol")
    if path.endswith("_gap.cfg") or (wsol and path.endswith("_cam.cfg")):
        assert not config.patch_sizes and not config.conv1_patch_sizes
    if wsol and path.endswith("_has.cfg"):
        # On a DeiT the paper's sizes become whole 16-pixel tokens.
        assert config.patch_sizes == (
            (0, 16, 32, 48, 64) if "_deit_" in path else (0, 16, 32, 44, 56)
        )
    for method in ("cutmix", "adl", "acol"):
        if path.endswith(f"_{method}.cfg"):
            assert config.method == method and not config.patch_sizes


# The paper's tables (Singh & Lee, ICCV 2017), transcribed independently of
# the flagfiles: file -> (table, row, figures in the order the headers
# quote them: GT-known Loc, Top-1 Loc[, Top-1 Clas]; THUMOS14: mAP at IoU
# 0.1 to 0.5).
PAPER = {
    "alexnet_gap": (1, "AlexNet-GAP", (54.90, 36.25, 60.23)),
    "alexnet_has_16": (1, "AlexNet-HaS-16", (57.86, 36.77, 57.97)),
    "alexnet_has_32": (1, "AlexNet-HaS-32", (58.75, 37.33, 57.94)),
    "alexnet_has_44": (1, "AlexNet-HaS-44", (58.55, 37.54, 58.10)),
    "alexnet_has_56": (1, "AlexNet-HaS-56", (58.43, 37.34, 58.13)),
    "alexnet_has_mixed": (1, "AlexNet-HaS-Mixed", (58.68, 37.65, 58.68)),
    "googlenet_gap": (1, "GoogLeNet-GAP", (58.41, 43.60, 71.95)),
    "googlenet_has_16": (1, "GoogLeNet-HaS-16", (59.83, 44.62, 70.49)),
    "googlenet_has_32": (1, "GoogLeNet-HaS-32", (60.29, 45.21, 70.70)),
    "googlenet_has_44": (1, "GoogLeNet-HaS-44", (60.11, 44.75, 70.34)),
    "googlenet_has_56": (1, "GoogLeNet-HaS-56", (59.93, 44.78, 70.37)),
    "alexnet_dropout_trainonly": (
        3,
        "AlexNet-dropout-trainonly",
        (42.17, 7.65),
    ),
    "alexnet_dropout_traintest": (
        3,
        "AlexNet-dropout-traintest",
        (53.48, 31.68),
    ),
    "alexnet_gmp": (4, "AlexNet-GMP", (50.40, 32.52)),
    "alexnet_gmp_has_56": (4, "AlexNet-Max-HaS", (59.27, 37.57)),
    "alexnet_has_conv1_5": (5, "AlexNet-HaS-conv1-5", (57.36, 36.91)),
    "alexnet_has_conv1_11": (5, "AlexNet-HaS-conv1-11", (58.33, 37.38)),
    "alexnet_has_56_p25": (6, "AlexNet-HaS-25%", (57.49, 37.77)),
    "alexnet_has_56_p33": (6, "AlexNet-HaS-33%", (58.12, 38.05)),
    "alexnet_has_56_p66": (6, "AlexNet-HaS-66%", (58.52, 35.72)),
    "alexnet_has_56_p75": (6, "AlexNet-HaS-75%", (58.28, 34.21)),
    "thumos14_video_full": (
        7,
        "Video-full",
        (34.23, 25.68, 17.72, 11.00, 6.11),
    ),
    "thumos14_video_has": (
        7,
        "Video-HaS",
        (36.44, 27.84, 19.49, 12.66, 6.84),
    ),
}
# Not the paper's experiments: synthetic quickstarts, shared recipes, CUB
# (not in the ICCV paper) and GoogLeNet-HaS-Mixed (no row).
NOT_IN_THE_PAPER = ("quickstart", "base_", "cub_", "googlenet_has_mixed")


def _header(path):
    return "".join(line for line in open(path) if line.startswith("#")).replace(
        "\n#", " "
    )


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_paper_experiments_quote_their_table_row_and_figures(path):
    name = os.path.basename(path)[: -len(".cfg")]
    if os.path.dirname(path).endswith(("wsol", "wtal", "actions")):  # Below.
        return
    if any(part in name for part in NOT_IN_THE_PAPER):
        assert name not in PAPER
        return
    table, row, figures = PAPER[name]
    header = " ".join(_header(path).split())
    assert f"Paper: Table {table}, row '{row}'" in header
    assert "not run here" in header
    after = header.split(f"row '{row}'", 1)[1]
    quoted = [float(v) for v in re.findall(r"\b\d+\.\d\d\b", after)]
    assert quoted[: len(figures)] == list(figures), quoted


def test_every_table_row_has_a_flagfile():
    names = {os.path.basename(f)[: -len(".cfg")] for f in FILES}
    assert set(PAPER) <= names


def test_a_circular_include_is_an_error(tmp_path, run_app):
    a, b = tmp_path / "a.cfg", tmp_path / "b.cfg"
    a.write_text(f"--epochs=3\n--flagfile={b}\n")
    b.write_text(f"--flagfile={a}\n")
    with pytest.raises(
        ValueError, match=r"circular include: .*a.cfg -> .*b.cfg -> .*a.cfg"
    ):
        config_lib.read_flagfile(str(a))
    self_include = tmp_path / "self.cfg"
    self_include.write_text(f"--flagfile={self_include}\n")
    with pytest.raises(ValueError, match="circular include"):
        config_lib.check_flagfiles(["train", "--flagfile", str(self_include)])
    config_lib.check_flagfiles(
        ["train", "--flagfile=flags/quickstart_baseline.cfg"]
    )
    # The app stops before doing anything, naming the chain.
    run = run_app(
        "has_tf.train",
        f"--flagfile={self_include}",
        f"--model_dir={tmp_path / 'run'}",
    )
    assert run.returncode != 0
    assert "circular include" in run.stderr
    assert not (tmp_path / "run").exists()


# wsolevaluation's main table (Choe et al., CVPR 2020, as
# ../shared/FIELD_FIGURES.md reads it), transcribed independently of the
# flagfiles: CAM's figure and HaS's difference per dataset and backbone.
WSOL_CAM = {
    "imagenet": {"vgg16": 60.0, "inception_v3": 63.4, "resnet50": 63.7},
    "cub": {"vgg16": 63.7, "inception_v3": 56.7, "resnet50": 63.0},
    "openimages": {"vgg16": 58.3, "inception_v3": 63.2, "resnet50": 58.5},
}
WSOL_HAS_DIFF = {
    "imagenet": {"vgg16": 0.6, "inception_v3": 0.3, "resnet50": -0.3},
    "cub": {"vgg16": 0.0, "inception_v3": -3.3, "resnet50": 1.7},
    "openimages": {"vgg16": -0.2, "inception_v3": -5.1, "resnet50": -2.6},
}

# The rivals' differences to CAM, as the tool prints them (same source),
# in the order ImageNet, CUB, OpenImages x VGG16, Inception-v3, ResNet50.
WSOL_RIVALS = {
    "acol": ("ACoL", (-2.6, 0.3, -1.4, -6.3, -0.5, 3.5, -4.0, -6.0, -1.2)),
    "adl": ("ADL", (-0.2, -2.0, 0.0, 2.6, 2.1, -4.6, 0.4, -6.4, -3.3)),
    "cutmix": ("CutMix", (-0.6, 0.5, -0.4, -1.4, 0.8, -0.2, -0.2, -0.7, -0.8)),
}
for _key, (_title, _diffs) in WSOL_RIVALS.items():
    _cells = iter(_diffs)
    WSOL_RIVALS[_key] = (
        _title,
        {
            dataset: {
                b: next(_cells) for b in ("vgg16", "inception_v3", "resnet50")
            }
            for dataset in ("imagenet", "cub", "openimages")
        },
    )


@pytest.mark.parametrize("dataset", sorted(WSOL_CAM))
@pytest.mark.parametrize("backbone", ["vgg16", "resnet50", "inception_v3"])
@pytest.mark.parametrize("method", ["cam", "has", "cutmix", "adl", "acol"])
def test_wsol_recipes_quote_the_tools_table(dataset, backbone, method):
    path = os.path.join("flags", "wsol", f"{dataset}_{backbone}_{method}.cfg")
    header = " ".join(_header(path).split())
    metric = "PxAP" if dataset == "openimages" else "MaxBoxAccV2"
    cam = WSOL_CAM[dataset][backbone]
    if method == "cam":
        assert f"test split: {metric} {cam:.1f} (CAM row)" in header
    elif method in WSOL_RIVALS:
        title, diffs = WSOL_RIVALS[method]
        diff = diffs[dataset][backbone]
        assert (
            f"test split: {metric} {cam + diff:.1f} ({title} row: CAM "
            f"{cam:.1f} {diff:+.1f})" in header
        )
    else:
        diff = WSOL_HAS_DIFF[dataset][backbone]
        assert (
            f"test split: {metric} {cam + diff:.1f} (HaS row: CAM {cam:.1f} "
            f"{diff:+.1f})" in header
        )
    assert "not run here" in header
    config = config_lib.train_config_from_flagfile(path)
    methods.resolve(config, "images")
    assert config.method == method
    assert config.model == f"{backbone}_cam"
    assert config.init_from.endswith(f"{backbone}.tv_in1k/model.safetensors")
    assert config.weight_decay == (1e-4 if backbone == "resnet50" else 5e-4)
    assert config.epochs == (50 if dataset == "cub" else 10)
    assert config.lr_boundaries == (0.3, 0.6, 0.9)
    assert config.batch_size == 32 and config.nesterov
    assert config.weight_decay_type == "l2" and config.lr_multiplier == 10


# The transformer methods' rows (../shared/FIELD_FIGURES.md, "Images since
# 2021"), transcribed independently of the flagfiles: method -> dataset ->
# (Top-1 Loc, GT-known Loc, Top-1 Clas) on DeiT-S, and the method's own
# schedule (its configs, scripts and README): epochs, batch, rate, steps,
# CAM threshold.
TRANSFORMER_ROWS = {
    "tscam": {
        "cub": ((71.3, 87.7, 80.3), (60, 128, 5e-5, (30, 60), 0.1)),
        "imagenet": ((53.4, 67.6, 74.3), (20, 256, 5e-4, (10, 12, 20), 0.12)),
    },
    "scm": {
        "cub": ((76.4, 96.6, 78.5), (30, 16, 5e-5, (30,), 0.1)),
        "imagenet": ((56.1, 68.8, 76.7), (20, 512, 1e-6, (10, 12, 20), 0.12)),
    },
    # No Top-1 Clas in the row; a constant rate (no steps).
    "sat": {
        "cub": ((80.96, 98.45, None), (30, 256, 1e-4, (), 0.4)),
        "imagenet": ((60.15, 73.13, None), (5, 512, 1.5e-5, (), 0.3)),
    },
}


@pytest.mark.parametrize("method", sorted(TRANSFORMER_ROWS))
@pytest.mark.parametrize("dataset", ["cub", "imagenet"])
@pytest.mark.parametrize("hiding", [False, True])
def test_transformer_recipes_quote_the_row_and_follow_its_schedule(
    method, dataset, hiding
):
    name = f"{dataset}_deit_small_{method}{'_has' if hiding else ''}"
    path = os.path.join("flags", "wsol", f"{name}.cfg")
    header = " ".join(_header(path).split())
    (top1, known, clas), schedule = TRANSFORMER_ROWS[method][dataset]
    quoted = f"Top-1 Loc {top1}, GT-known Loc {known}"
    if clas is not None:
        quoted += f", Top-1 Clas {clas}"
    assert quoted in header
    assert "not run here" in header
    assert ("no published row" in header) == hiding
    config = config_lib.train_config_from_flagfile(path, model_dir="unused")
    methods.resolve(config, "images")
    epochs, batch, rate, steps, threshold = schedule
    assert (config.method, config.model) == (method, "deit_small")
    assert config.optimizer == "adamw" and config.weight_decay == 0.05
    assert config.drop_path_rate == 0.1
    assert (config.epochs, config.batch_size) == (epochs, batch)
    assert config.learning_rate == rate
    values = config_lib.read_flagfile(path)
    assert values.cam_threshold == threshold
    # SAT tests on a centre crop, TS-CAM and SCM on the resized image.
    crop = "center_crop" if method == "sat" else "resize"
    assert values.eval_crop == crop
    # The rate drops at the start of each epoch a step divides: after
    # epoch - 1 whole epochs.
    decays = sorted(
        {e for e in range(1, epochs + 1) for s in steps if e % s == 0}
    )
    assert [int(b * epochs * 1000) for b in config.lr_boundaries] == [
        (e - 1) * 1000 for e in decays
    ]
    assert config.init_from.endswith(
        "deit_small_patch16_224.fb_in1k/model.safetensors"
    )
    assert bool(config.patch_sizes) == hiding


@pytest.mark.parametrize(
    "space",
    ["cam", "has", "cutmix", "adl", "acol", "tscam", "scm", "sat", "deit_has"],
)
def test_search_spaces_read(space):
    from has_tf import search

    read = search.read_space(os.path.join("flags", "spaces", f"{space}.json"))
    assert "learning_rate" in read


# The field's THUMOS14 anchors (../shared/FIELD_FIGURES.md, "Actions",
# avg mAP 0.1:0.7), transcribed independently of the flagfiles.
WTAL_ANCHORS = {
    "STPN": 27.0,
    "BaS-Net": 35.3,
    "CoLA": 40.9,
    "AICL": 46.4,
    "SAL": 50.6,
}
WTAL = sorted(glob.glob(os.path.join("flags", "wtal", "thumos14_i3d_*.cfg")))


@pytest.mark.parametrize("path", WTAL, ids=os.path.basename)
def test_wtal_recipes_quote_the_anchors_and_use_the_modern_grid(path):
    header = " ".join(_header(path).split())
    assert "not run here" in header
    for method, figure in WTAL_ANCHORS.items():
        assert f"{method} {figure:.1f}" in header, method
    config = config_lib.train_config_from_flagfile(path, model_dir="unused")
    assert config.train_split == "validation"
    evaluation = config_lib.eval_config(config_lib.read_flagfile(path))
    assert evaluation.iou_thresholds == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
    preset = os.path.basename(path).removesuffix(".cfg").split("_")[2]
    expected = {"paper": "has_paper", "full101": "has_paper"}.get(
        preset, preset
    )
    assert evaluation.postprocess == expected


def test_there_is_a_wtal_recipe_per_preset():
    names = {
        os.path.basename(p).removesuffix(".cfg").split("_")[2] for p in WTAL
    }
    assert names == {
        "paper",
        "full101",
        "stpn",
        "wtalc",
        "basnet",
        "cola",
        "co2",
        "aicl",
        "delu",
    }


# ActivityNet anchors (../shared/FIELD_FIGURES.md: avg mAP 0.5:0.05:0.95).
ANET_ANCHORS = {
    "v1_2": {
        "W-TALC": 18.0,
        "BaS-Net": 24.3,
        "CoLA": 26.1,
        "AICL": 29.9,
        "SAL": 30.8,
    },
    "v1_3": {"BaS-Net": 22.2, "AICL": 27.6, "SAL": 28.8},
}


@pytest.mark.parametrize("version", sorted(ANET_ANCHORS))
def test_activitynet_recipes_quote_the_anchors(version):
    path = os.path.join("flags", "wtal", f"activitynet_{version}_i3d_has.cfg")
    header = " ".join(_header(path).split())
    assert "not run here" in header
    for method, figure in ANET_ANCHORS[version].items():
        assert f"{method} {figure:.1f}" in header, method
    evaluation = config_lib.eval_config(config_lib.read_flagfile(path))
    assert evaluation.eval_split == "validation"
    assert evaluation.iou_thresholds == tuple(
        round(0.5 + 0.05 * i, 2) for i in range(10)
    )


@pytest.mark.parametrize(
    "path",
    sorted(
        path
        for path in glob.glob("flags/wsol/*_psol_*.cfg")
        if "_ddt_" not in path and "base_" not in path
    ),
)
def test_psol_regressor_recipes_follow_its_schedule(path):
    """PSOL_training.py's schedule whatever the backbone's base says (the
    VGG16 base's weight decay is 5e-4), and a feature map the model has."""
    from has_tf import models

    config = config_lib.train_config_from_flagfile(path, model_dir="unused")
    assert config.pseudo_labels.endswith(
        "_psol_ddt_vgg16/pseudo_labels/train_ddt.jsonl"
    )
    assert (config.batch_size, config.learning_rate, config.epochs) == (
        256,
        0.001,
        6,
    )
    assert (config.weight_decay, config.weight_decay_type) == (0.0001, "l2")
    assert config.lr_multiplier == 2 and config.resize_size == 256
    backbone = path.rsplit("_psol_", 1)[1].removesuffix(".cfg")
    assert (
        config.model
        == {
            "resnet50": "resnet50_cam",
            "densenet161": "densenet161",
            "vgggap": "vgg16_cam",
        }[backbone]
    )
    if backbone == "vgggap":
        # torchvision's VGG16 features end at pool5: conv5_3, pooled 2 x 2.
        assert (config.box_features, config.box_features_pool) == (
            "conv5_3_relu",
            2,
        )
        model = models.vgg16_cam(3, (32, 32, 3))
        assert models.feature_map(model, config.box_features, "x").shape[
            1:
        ] == (2, 2, 512)
    else:
        assert (config.box_features, config.box_features_pool) == ("", 1)


# Each method's code: units, iterations, seed, rate, L2 decay, batch, steps.
METHOD_SCHEDULES = {
    "cola": (2048, 6000, 0, 0.0001, 0.0005, 16, 750),
    "aicl": (512, 11700, 1, 0.0001, 0.0005, 16, 750),
    "delu": (512, 5000, 0, 0.00005, 0.001, 10, 320),
}


@pytest.mark.parametrize(
    "name", [f"{m}{h}" for m in METHOD_SCHEDULES for h in ("", "_has")]
)
def test_method_recipes_train_the_method_they_name(name):
    """A recipe named after a method trains it (--method), with its
    code's schedule; its _has twin only adds the hiding."""
    path = os.path.join("flags", "wtal", f"thumos14_i3d_{name}.cfg")
    config = config_lib.train_config_from_flagfile(path, model_dir="unused")
    method = methods.resolve(config, "videos")
    assert method.name == name.split("_")[0] and method.network is not None
    units, iterations, seed, rate, decay, batch, steps = METHOD_SCHEDULES[
        method.name
    ]
    assert (config.optimizer, config.learning_rate, config.weight_decay) == (
        "adam",
        rate,
        decay,
    )
    assert config.weight_decay_type == "l2" and config.batch_size == batch
    assert config.epochs * config.steps_per_epoch == iterations
    assert config.num_steps == steps
    assert config.video_sampling == "random_perturb"
    assert (config.units, config.seed) == (units, seed)
    assert (config.segment_size > 0) == name.endswith("_has")
    evaluation = config_lib.eval_config(config_lib.read_flagfile(path))
    assert evaluation.postprocess == method.name


def test_delus_activitynet_recipe_follows_its_script():
    path = os.path.join("flags", "wtal", "activitynet_v1_2_i3d_delu.cfg")
    config = config_lib.train_config_from_flagfile(path, model_dir="unused")
    methods.resolve(config, "videos")
    assert (config.learning_rate, config.weight_decay) == (0.00003, 0.0005)
    assert config.epochs * config.steps_per_epoch == 22000
    assert (config.num_steps, config.batch_size) == (60, 10)
    assert (config.delu_edl, config.delu_smoothing) == ("mse", 13)
    assert (60 // 5) // 2 * 2 + 1 == config.delu_smoothing  # max_seqlen, t
    assert (config.delu_rat_atn, config.delu_k) == (5, 5)
    assert (config.delu_alpha_edl, config.delu_alpha_uct) == (1.2, 0.2)
    assert (config.delu_amplitude, config.delu_alpha_guide) == (0.2, 0.8)
    evaluation = config_lib.eval_config(config_lib.read_flagfile(path))
    assert evaluation.postprocess == "delu"
    assert evaluation.iou_thresholds[0] == 0.5


@pytest.mark.parametrize("network", ["paper", "cola", "aicl", "delu"])
def test_the_action_methods_table_trains_what_it_names(network):
    """flags/actions/: each network with and without hiding, nothing else
    different (docs/results.md's table)."""
    configs = {}
    for hiding in ("", "_has"):
        path = os.path.join("flags", "actions", f"{network}{hiding}.cfg")
        config = config_lib.train_config_from_flagfile(path, model_dir="x")
        method = methods.resolve(config, "videos")
        expected = (
            network if network != "paper" else ("has" if hiding else "cam")
        )
        assert method.name == expected
        assert (config.segment_size > 0) == bool(hiding)
        configs[hiding] = config
    differ = {
        f.name
        for f in dataclasses.fields(configs[""])
        if getattr(configs[""], f.name) != getattr(configs["_has"], f.name)
    }
    assert differ <= {"segment_size", "method", "model_dir", "method_options"}
