"""TFDS builders of has_tf; importing this module registers them.

`tfds.builder("synthetic_parts", data_dir=...)` then works as for any TFDS
dataset, and so does `tfds build synthetic_parts --imports has_tf.datasets`.
`load` gives any dataset has_tf knows in one call, with has_tf's feature
names (`image`, `label`, `objects/bbox`, and `mask` where masks exist).

One package per dataset (its builder, README and `dummy_data/`):
`synthetic_parts`, `ilsvrc_loc`, `wsol_cub`, `wsol_imagenet`,
`openimages30k` (images), `synthetic_actions`, `thumos14_features`,
`activitynet_features` (video features). Shared modules: `cub` (TFDS's
`caltech_birds2011` in has_tf's names), `wsol_metadata` (wsolevaluation's
metadata files), `video_features` (the video datasets' feature schema),
`feature_bundles` (readers of the published feature files), `faults`
(bad rows and files of a manual download, named and counted),
`make_wsol_dummy_data`; `__main__` prepares a dataset from the command
line.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf
import tensorflow_datasets as tfds

from has_tf.datasets import activitynet_features
from has_tf.datasets import cub
from has_tf.datasets import feature_bundles
from has_tf.datasets import ilsvrc_loc
from has_tf.datasets import openimages30k
from has_tf.datasets import synthetic_actions
from has_tf.datasets import synthetic_parts
from has_tf.datasets import thumos14_features
from has_tf.datasets import wsol_cub
from has_tf.datasets import wsol_imagenet

__all__ = [
    "DataMissingError",
    "activitynet_features",
    "KNOWN",
    "VIDEOS",
    "cub",
    "decode_error",
    "ilsvrc_loc",
    "is_video",
    "openimages30k",
    "load",
    "prepare",
    "screen",
    "undecodable",
    "synthetic_actions",
    "synthetic_parts",
    "thumos14_features",
    "wsol_cub",
    "wsol_imagenet",
]

# has_tf's name -> the TFDS builder name.
KNOWN = {
    "synthetic_parts": "synthetic_parts",
    "ilsvrc_loc": "ilsvrc_loc",
    "cub": cub.TFDS_NAME,
    "synthetic_actions": "synthetic_actions",
    "thumos14_features": "thumos14_features",
    "wsol_cub": "wsol_cub",
    "wsol_imagenet": "wsol_imagenet",
    "openimages30k": "openimages30k",
    "activitynet_features": "activitynet_features",
}

# Datasets of video feature sequences (`video_features` schema).
VIDEOS = ("synthetic_actions", "thumos14_features", "activitynet_features")


def is_video(name: str) -> bool:
    """Whether `name` ("base" or "base/config") is a video-feature dataset."""
    return name.partition("/")[0] in VIDEOS


# Where each dataset's files come from, for the message when they are not
# there.
_README = {
    "ilsvrc_loc": "has_tf/datasets/ilsvrc_loc/README.md",
    "thumos14_features": "has_tf/datasets/thumos14_features/README.md",
    "activitynet_features": "has_tf/datasets/activitynet_features/README.md",
    "cub": "has_tf/datasets/cub.py (and docs/datasets.md)",
    "wsol_cub": "has_tf/datasets/wsol_cub/README.md",
    "wsol_imagenet": "has_tf/datasets/wsol_imagenet/README.md",
    "openimages30k": "has_tf/datasets/openimages30k/README.md",
}


class DataMissingError(FileNotFoundError):
    """A dataset whose files are not where the flags say, and cannot be
    downloaded from here: names what is missing, where it goes, and
    which README says how to get it."""


def _missing(name, base, data_dir, manual_dir, error) -> DataMissingError:
    cause = str(error).strip().splitlines()[0][:300] if str(error) else ""
    if isinstance(error, AssertionError) and "anual" in str(error):
        what = f"its files are not in --manual_dir={manual_dir or '(unset)'}"
    elif isinstance(error, OSError) and error.errno is not None:
        what = (
            f"preparing it in --data_dir={data_dir} failed "
            f"({type(error).__name__}: {cause})"
        )
    else:
        what = (
            f"it is not prepared in --data_dir={data_dir} and could not be "
            f"downloaded ({type(error).__name__}: {cause})"
        )
    return DataMissingError(
        f"--dataset={name}: {what}. "
        + (
            f"Where its files come from and where they go: {_README[base]}."
            if base in _README
            else ""
        )
    )


_NAMED = 20  # Undecodable images named in one message, at most.


def _undecodable_message(name, split, bad) -> str:
    more = " ..." if len(bad) >= _NAMED else ""
    return (
        f"--dataset={name} split {split!r}: these images do not decode "
        f"with TensorFlow: {', '.join(bad)}{more} (remove or repair them "
        "and prepare the dataset again)."
    )


def undecodable(dataset, limit: int = _NAMED) -> list:
    """The examples of an image dataset whose image does not decode whole.

    For naming the culprits once a pipeline failed on one: every example's
    `image` (encoded bytes, or already decoded) is decoded with
    TensorFlow's decoder, all of it (a JPEG cut short can still give the
    windows that stop above the cut).

    Args:
      dataset: examples with "image" and, ideally, "file_name".
      limit: name at most this many.

    Returns:
      Up to `limit` names: each example's `file_name` (or its index).
    """

    def check(index, example):
        image = example["image"]
        if image.dtype == tf.string:
            image = tf.io.decode_image(
                image, channels=3, expand_animations=False
            )
        return index, tf.shape(image)[0]

    readable = {
        int(i)
        for i, _ in dataset.enumerate()
        .map(check)
        .ignore_errors(log_warning=False)
        .as_numpy_iterator()
    }
    total = int(dataset.reduce(0, lambda n, _: n + 1))
    names = []
    for index in range(total):
        if index in readable:
            continue
        example = next(iter(dataset.skip(index).take(1)))
        name = example.get("file_name")
        names.append(
            name.numpy().decode() if name is not None else f"example {index}"
        )
        if len(names) >= limit:
            break
    return names


# Datasets whose images are generated (synthetic_parts) or screened by the
# builder (ilsvrc_loc): nothing to screen again.
_SCREENED_AT_BUILD = (
    "ilsvrc_loc",
    "synthetic_parts",
    "wsol_cub",
    "wsol_imagenet",
    "openimages30k",
)


def screen(name, split, data_dir=None, manual_dir=None) -> None:
    """Checks once that every image of a prepared split decodes, so a run
    does not train for hours and then fail on an evaluation image.

    The answer is cached beside the prepared files
    (`has_tf_screened-<split>.json`); video-feature datasets and the
    builders that screen their images themselves are skipped.

    Raises:
      ValueError: naming the images that do not decode.
    """
    base = name.partition("/")[0]
    if is_video(name) or base in _SCREENED_AT_BUILD:
        return
    data, builder = load(name, split, data_dir, manual_dir, decode_images=False)
    marker = os.path.join(
        os.fspath(builder.data_dir), f"has_tf_screened-{split}.json"
    )
    if tf.io.gfile.exists(marker):
        return
    bad = undecodable(data)
    if bad:
        raise ValueError(_undecodable_message(name, split, bad))
    with tf.io.gfile.GFile(marker, "w") as f:
        json.dump({"split": split, "undecodable": 0}, f)


def decode_error(name, split, data_dir, manual_dir, error):
    """What to raise when a pipeline over `name`'s `split` failed inside
    TensorFlow with `error`: a ValueError naming the images that do not
    decode, when that was the cause (image datasets), else `error`."""
    if is_video(name):
        return error
    data, _ = load(name, split, data_dir, manual_dir, decode_images=False)
    bad = undecodable(data)
    if not bad:
        return error
    return ValueError(
        _undecodable_message(name, split, bad)
        + f" TensorFlow said: {str(error).strip().splitlines()[0][:200]}"
    )


def prepare(name: str, data_dir=None, manual_dir=None, allow_pickle=False):
    """Prepares (if needed) a dataset by has_tf's name; returns its TFDS
    builder, whose `info.splits` are the splits it has (not every dataset
    has a "train" split: a THUMOS14 test-list config has "test" only).

    `allow_pickle`: the user's word that pickled files may be read (W-TALC's
    bundles: `feature_bundles.allowing_pickles`); needed only while the
    dataset is prepared.

    Raises:
      ValueError: an unknown name; the message lists the known ones.
        `feature_bundles.PickleRefused`: a pickled file without
        `allow_pickle`.
      DataMissingError: the files are not there (a FileNotFoundError).
    """
    base, _, config = name.partition("/")
    if base not in KNOWN:
        raise ValueError(
            f"Unknown dataset {name!r}. Known: {', '.join(sorted(KNOWN))}"
        )
    tfds_name = KNOWN[base] + (f"/{config}" if config else "")
    builder = tfds.builder(tfds_name, data_dir=data_dir)
    try:
        with feature_bundles.allowing_pickles(allow_pickle):
            builder.download_and_prepare(
                download_config=tfds.download.DownloadConfig(
                    manual_dir=manual_dir, try_download_gcs=False
                )
            )
    except (AssertionError, OSError, tfds.download.DownloadError) as error:
        raise _missing(name, base, data_dir, manual_dir, error) from error
    return builder


def load(
    name: str,
    split: str,
    data_dir=None,
    manual_dir=None,
    shuffle_files: bool = False,
    seed: int | None = None,
    decode_images: bool = True,
    assert_cardinality: bool = True,
    try_autocache: bool = True,
    allow_pickle: bool = False,
):
    """Prepares (if needed) and reads a dataset by has_tf's name.

    Args:
      name: one of `KNOWN`, optionally with a config ("synthetic_parts/tiny").
      split: a TFDS split ("train", "validation", "test", "train[:10%]").
      data_dir: where TFDS keeps prepared datasets.
      manual_dir: the manual download dir (ILSVRC).
      shuffle_files: shuffle the split's files.
      seed: the file order's seed (with `shuffle_files`); None: TFDS's
        default, which depends on the ops created before.
      decode_images: False leaves `image` encoded (a scalar tf.string,
        `tfds.decode.SkipDecoding()`), for pipelines that decode only a
        crop's window (`has_tf.input_pipeline`); other image features
        (masks) are decoded either way.
      assert_cardinality: check that the split yields the number of
        examples TFDS recorded; off where only part of it is read (tf.data
        service's dynamic sharding gives each worker some files).
      try_autocache: let TFDS cache a small, unshuffled split in memory
        on its first pass (`tfds.ReadConfig.try_autocache`). Pass False
        when only part of the split will be read (`take`): a cache left
        half-filled is discarded, with a TensorFlow warning.
      allow_pickle: pickled files may be read while preparing (`prepare`).

    Returns:
      `(dataset, builder)`.

    Raises:
      ValueError: an unknown name; the message lists the known ones.
      DataMissingError: the files are not there (a FileNotFoundError).
    """
    builder = prepare(name, data_dir, manual_dir, allow_pickle)
    base = name.partition("/")[0]
    decoders = None
    features = builder.info.features
    if (
        not decode_images
        and "image" in features
        and isinstance(features["image"], tfds.features.Image)
    ):
        decoders = {"image": tfds.decode.SkipDecoding()}
    dataset = builder.as_dataset(
        split=split,
        shuffle_files=shuffle_files,
        read_config=tfds.ReadConfig(
            shuffle_seed=seed,
            assert_cardinality=assert_cardinality,
            try_autocache=try_autocache,
        ),
        decoders=decoders,
    )
    if base == "cub":
        dataset = dataset.map(cub.cub_example)
    return dataset, builder
