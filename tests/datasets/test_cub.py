"""CUB through caltech_birds2011 with TFDS's mock data."""

import pytest
import tensorflow_datasets as tfds

import has_tf.datasets
from has_tf.input_pipeline import images as image_pipeline


def test_cub_runs_through_the_pipelines():
    with tfds.testing.mock_data(num_examples=4):
        dataset, _ = has_tf.datasets.load("cub", "train")
        example = next(iter(dataset))
        assert set(example) == {"image", "label", "objects", "mask"}
        assert example["objects"]["bbox"].shape == (1, 4)
        batch = next(
            iter(
                image_pipeline.eval_pipeline(
                    dataset, 2, "resize", image_size=32
                )
            )
        )
        assert batch["image"].shape == (2, 32, 32, 3)
        assert batch["boxes"].shape == (2, 1, 4)
        images, labels = next(
            iter(
                image_pipeline.train_pipeline(
                    dataset,
                    2,
                    image_pipeline.ImageAugmentation(
                        image_size=24, resize_size=32, patch_sizes=(8,)
                    ),
                )
            )
        )
        assert images.shape == (2, 24, 24, 3) and labels.shape == (2,)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(
        ValueError,
        match="Unknown dataset 'imagenet'. Known: activitynet_features, cub, "
        "ilsvrc_loc, openimages30k, synthetic_actions, synthetic_parts, "
        "thumos14_features, wsol_cub, wsol_imagenet",
    ):
        has_tf.datasets.load("imagenet", "train")


def test_load_synthetic_by_name(tmp_path):
    dataset, builder = has_tf.datasets.load(
        "synthetic_parts/tiny", "test", data_dir=tmp_path
    )
    assert builder.info.splits["test"].num_examples == 6
    assert len(list(dataset)) == 6


@pytest.mark.slow
def test_command_line_prepares_a_dataset(tmp_path, run_app):
    done = run_app(
        "has_tf.datasets", "synthetic_parts/tiny", "--data_dir", tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "synthetic_parts/tiny/2.0.0" in done.stdout
    assert "'train': 12" in done.stdout
    # THUMOS14 has no train split (validation and test): the command its
    # README gives prepares it and names the splits it has.
    from has_tf.datasets.thumos14_features import make_dummy_data

    make_dummy_data.write(tmp_path / "manual")
    done = run_app(
        "has_tf.datasets",
        "thumos14_features/dummy",
        f"--data_dir={tmp_path}",
        f"--manual_dir={tmp_path / 'manual'}",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "'validation':" in done.stdout and "'test':" in done.stdout
    done = run_app("has_tf.datasets", "nope")
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("has_tf.datasets: error: Unknown dataset 'nope'")
    )
