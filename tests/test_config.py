"""has_tf.config: checks that name the flag, each option's task, the
help grouped by task, the 0.2 flag alias. (That importing it loads no
TensorFlow is checked with the other NumPy-only modules in
test_architecture.py.)"""

import os

import pytest
from absl import flags

from has_tf import config
from has_tf import tasks
from has_tf import train


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(patch_sizes=(0, 40)), "--patch_sizes: a patch is larger"),
        (dict(hide_prob=2.0), "--hide_prob.*Received: 2.0"),
        (dict(lr_boundaries=(0.8, 0.5)), "--lr_boundaries"),
        (dict(image_size=40), "--image_size"),
        (dict(model="vgg"), "--model"),
        (dict(conv1_hide_prob=-0.1), "--conv1_hide_prob.*-0.1"),
        (
            dict(model="googlenet_gap", conv1_patch_sizes=(5,)),
            "--conv1_patch_sizes: conv1 hiding",
        ),
    ],
)
def test_invalid_configs_name_the_flag(tmp_path, kwargs, match, tiny):
    """Checked when the config is made or, for what the method and the
    model ask, when the run's task resolves them (as training does first)."""
    with pytest.raises(ValueError, match=match):
        made = train.TrainConfig(model_dir=str(tmp_path), **{**tiny, **kwargs})
        tasks.resolve(made)


def test_every_option_names_its_task():
    for klass in (config.TrainConfig, config.EvalConfig, config.CamsConfig):
        for field in config.flag_fields(klass):
            assert field.metadata["task"] in config.TASK_GROUPS, field.name


@pytest.mark.parametrize(
    "flag, task",
    [
        ("patch_sizes", "images"),
        ("segment_size", "videos"),
        ("eval_crop", "images"),
        ("class_threshold", "videos"),
        ("batch_size", None),
    ],
)
def test_the_help_tags_the_task(flag, task):
    values = flags.FlagValues()
    config.define_flags(values)
    help_text = values[flag].help  # Enums' start with their choices.
    tags = [t for t in ("[images] ", "[videos] ") if t in help_text]
    assert tags == ([f"[{task}] "] if task else [])
    grouped = values.flags_by_module_dict()
    group = f"has_tf.config ({task or config.TASK_GROUPS[0]})"
    assert flag in [f.name for f in grouped[group]]


def test_options_by_task_lists_each_option_once_in_80_columns():
    text = config.options_by_task(config.TrainConfig, config.EvalConfig)
    assert all(len(line) <= 80 for line in text.splitlines())
    listed = text.split()
    for klass in (config.TrainConfig, config.EvalConfig):
        for field in config.flag_fields(klass):
            assert listed.count(f"--{field.name}") == 1, field.name
    assert "--cutmix_beta" in listed  # A method's own option.
    videos = text[text.index("  videos:") :]
    assert "--segment_size" in videos and "--patch_sizes" not in videos


def test_the_0_2_flag_name_is_gone(tmp_path):
    values = flags.FlagValues()
    config.define_flags(values)
    with pytest.raises(flags.UnrecognizedFlagError, match="protocol"):
        values(["app", "--protocol=ten_crop", "--model_dir=m"])
    values(["app", "--eval_crop=ten_crop", "--model_dir=m"])
    assert config.eval_config(values).eval_crop == "ten_crop"


def test_evaluate_and_evaluate_cams_share_one_declaration_per_flag():
    for name in ("box_protocol", "iou_thresholds", "workers"):
        evaluate = config.EvalConfig.__dataclass_fields__[name]
        cams = config.CamsConfig.__dataclass_fields__[name]
        assert evaluate.metadata == cams.metadata, name
        assert evaluate.default == cams.default, name


@pytest.mark.parametrize(
    "lines, match",
    [
        (["--model_dir=runs/x  # the baseline"], "a comment after a value"),
        (["--epochs=2", "--seed=1", "--epochs=3"], "--epochs is given twice"),
    ],
)
def test_flagfile_lines_absl_would_misread(tmp_path, lines, match):
    path = tmp_path / "x.cfg"
    path.write_text("# A header comment is fine.\n" + "\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=match):
        config.read_flagfile(str(path))


def test_a_flag_of_an_included_flagfile_may_be_overridden(tmp_path):
    (tmp_path / "base.cfg").write_text("--epochs=2\n")
    path = tmp_path / "x.cfg"
    path.write_text(f"--flagfile={tmp_path / 'base.cfg'}\n--epochs=3\n")
    assert config.read_flagfile(str(path)).epochs == 3


def test_overwrite_never_deletes_the_weights_it_starts_from(
    one_step_run, tmp_path, tiny
):
    """`--overwrite --init_from=<the run> --model_dir=<the run>` deleted the
    run, then failed for want of its weights: now refused first, for the
    run itself, its model.keras, or the same folder by a link."""
    run = one_step_run()
    link = str(tmp_path / "link")
    os.symlink(run, link)
    for source in (run, os.path.join(run, "model.keras"), link):
        with pytest.raises(ValueError, match="--init_from.*--overwrite dele"):
            train.train(
                train.TrainConfig(
                    model_dir=run,
                    data_dir=str(tmp_path),
                    init_from=source,
                    overwrite=True,
                    epochs=1,
                    steps_per_epoch=1,
                    **tiny,
                )
            )
        assert os.path.exists(os.path.join(run, "model.keras"))
