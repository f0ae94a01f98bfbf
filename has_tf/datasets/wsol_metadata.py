"""wsolevaluation's splits as TFDS builders: `wsol_cub`, `wsol_imagenet`,
`openimages30k` (Choe et al., CVPR 2020; clovaai/wsolevaluation).

The annotations are the tool's own `metadata/` folder (its files, as
published in the repository, copied or linked into the manual directory);
the images are the tool's `dataset/` layout. The manual directory holds:

    metadata/<FOLDER>/{train,val,test}/image_ids.txt, class_labels.txt,
        image_sizes.txt, localization.txt
    <FOLDER>/<image id>          (e.g. CUB/001.Black_footed_Albatross/...)

with FOLDER `CUB`, `ILSVRC` or `OpenImages`. The tool's splits become
TFDS's `train` (train-weaksup), `validation` (train-fullsup: CUBV2,
ImageNetV2, OpenImages val) and `test`.

Each example: `image` (the file's JPEG bytes, other formats re-encoded),
`label`, `image_id` (the metadata's id), `file_name`, `image_size`
(`[width, height]` as `image_sizes.txt` states it), and for box datasets
`objects/bbox` (normalised yxyx: a corner box x0..x1 covers pixels x0 to
x1, so it ends at x1 + 1, clipped to the image) beside `wsol_boxes`
(int32 `[N, 4]`: the tool's `x0, y0, x1, y1` inclusive corners, unchanged);
for `openimages30k`'s evaluation splits `mask` (uint8 `[H, W, 1]`, 1 where
any instance mask of `localization.txt` is > 0: their union) and
`ignore_mask` (1 where the image's ignore mask is > 0 and no instance is).
Training splits carry what their metadata has (ILSVRC's and OpenImages'
train have no localization).

A malformed line, an image listed without a label, a file that is missing
or does not decode is named, counted and skipped (config "strict": the
first stops the build), as `ilsvrc_loc` does; so are an image whose
`image_sizes.txt` line disagrees with the file (swapped width and height
included: its boxes would be scaled wrongly), an image given two labels or
two sizes, and a box wholly outside its image or inverted. A box partly
outside is clipped and counted (`boxes_clipped`).
"""

from __future__ import annotations

import dataclasses
import io
import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from etils import epath

from has_tf.datasets.faults import Faults

__all__ = ["SPLITS", "WsolBuilder", "WsolConfig", "read_split"]

# TFDS split -> the tool's folder.
SPLITS = {"train": "train", "validation": "val", "test": "test"}
FILES = (
    "image_ids.txt",
    "class_labels.txt",
    "image_sizes.txt",
    "localization.txt",
)


@dataclasses.dataclass
class WsolConfig(tfds.core.BuilderConfig):
    """`on_corrupt`: "skip" (name, count and skip) or "fail"."""

    on_corrupt: str = "skip"

    def __post_init__(self):
        if self.on_corrupt not in ("skip", "fail"):
            raise ValueError(
                "Expected on_corrupt 'skip' or 'fail'. "
                f"Received: {self.on_corrupt!r}"
            )


CONFIGS = [
    WsolConfig(name="default", description="Bad rows and files are skipped."),
    WsolConfig(
        name="strict",
        on_corrupt="fail",
        description="A bad row or file stops the build.",
    ),
]


@dataclasses.dataclass
class SplitRows:
    """One split's metadata after the bad rows are skipped.

    Attributes:
      image_ids: in the file's order.
      labels: `{id: class}`.
      sizes: `{id: (width, height)}`.
      boxes: `{id: [(x0, y0, x1, y1), ...]}`.
      masks: `{id: [mask path, ...]}`; ignore: `{id: ignore path}`.
    """

    image_ids: list
    labels: dict
    sizes: dict
    boxes: dict
    masks: dict
    ignore: dict


def _rows(path, faults, lengths):
    """`(where, fields)` of a metadata file; bad lines are faults."""
    if not path.exists():
        return
    with path.open() as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = line.split(",")
            where = f"{path.parent.name}/{path.name}:{number}"
            if len(parts) not in lengths:
                faults.skip(
                    "malformed_lines",
                    where,
                    f"expected {' or '.join(map(str, lengths))} fields, "
                    f"got {line!r}",
                )
                continue
            yield where, parts


def _ints(values, where, faults, positive=False):
    try:
        numbers = tuple(int(v) for v in values)
    except ValueError:
        faults.skip("malformed_lines", where, f"not integers: {values}")
        return None
    if positive and min(numbers) <= 0:
        faults.skip("malformed_lines", where, f"not positive: {numbers}")
        return None
    return numbers


# An id whose metadata lines disagree: dropped from every later line too.
_CONFLICT = object()


def _once(table, image_id, value, where, what, faults) -> None:
    """`table[image_id] = value`, unless an earlier line gave another value:
    then the image is a fault (a second line must not silently win)."""
    earlier = table.get(image_id, value)
    if earlier is _CONFLICT:
        return
    if earlier != value:
        faults.skip(
            f"conflicting_{what}",
            where,
            f"{image_id} has {what[:-1]} {value} here and {earlier} on an "
            "earlier line",
        )
        table[image_id] = _CONFLICT
        return
    table[image_id] = value


def read_split(folder, faults: Faults) -> SplitRows:
    """Reads one split's metadata folder (bad lines skipped and counted).

    Raises:
      FileNotFoundError: no `image_ids.txt` or `class_labels.txt`.
    """
    folder = epath.Path(folder)
    for name in FILES[:2]:
        if not (folder / name).exists():
            raise FileNotFoundError(
                f"Missing {folder / name} (wsolevaluation's metadata folder "
                "goes in the manual dir as metadata/; see the README)."
            )
    image_ids = [
        parts[0] for _, parts in _rows(folder / "image_ids.txt", faults, (1,))
    ]
    labels, sizes, boxes, masks, ignore = {}, {}, {}, {}, {}
    for where, parts in _rows(folder / "class_labels.txt", faults, (2,)):
        label = _ints(parts[1:], where, faults)
        if label is not None:
            _once(labels, parts[0], label[0], where, "labels", faults)
    for where, parts in _rows(folder / "image_sizes.txt", faults, (3,)):
        size = _ints(parts[1:], where, faults, positive=True)
        if size is not None:
            _once(sizes, parts[0], size, where, "sizes", faults)
    for where, parts in _rows(folder / "localization.txt", faults, (3, 5)):
        if len(parts) == 5:
            box = _ints(parts[1:], where, faults)
            if box is None:
                continue
            if box[2] < box[0] or box[3] < box[1]:
                faults.skip("inverted_boxes", where, f"box {box} has min > max")
                continue
            boxes.setdefault(parts[0], []).append(box)
        else:
            if parts[0] not in masks:
                ignore[parts[0]] = parts[2]
            masks.setdefault(parts[0], []).append(parts[1])
    return SplitRows(image_ids, labels, sizes, boxes, masks, ignore)


def _inside(boxes, size, image_id, faults) -> list:
    """The corner boxes that overlap the `(width, height)` image: one wholly
    outside is a fault (it would become a zero-area box); one partly
    outside is kept (clipped when normalised) and counted."""
    width, height = size
    kept = []
    for box in boxes:
        x0, y0, x1, y1 = box
        if x0 >= width or y0 >= height or x1 < 0 or y1 < 0:
            faults.skip(
                "boxes_outside_images",
                image_id,
                f"box {box} (x0, y0, x1, y1) is outside the {width} x "
                f"{height} image",
            )
            continue
        if x0 < 0 or y0 < 0 or x1 >= width or y1 >= height:
            faults.count("boxes_clipped")
        kept.append(box)
    return kept


class WsolBuilder:
    """What the three builders share (mixed into a TFDS builder); each
    sets FOLDER, NUM_CLASSES, HOMEPAGE and MASKS (whether evaluation splits
    carry masks, else boxes)."""

    FOLDER = ""
    NUM_CLASSES = 0
    HOMEPAGE = ""
    MASKS = False
    BUILDER_CONFIGS = CONFIGS

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=self._features(),
            supervised_keys=("image", "label"),
            homepage=self.HOMEPAGE,
        )

    def _features(self):
        features = {
            "image": tfds.features.Image(
                shape=(None, None, 3), encoding_format="jpeg"
            ),
            "label": tfds.features.ClassLabel(num_classes=self.NUM_CLASSES),
            "image_id": tfds.features.Text(),
            "file_name": tfds.features.Text(),
            "image_size": tfds.features.Tensor(shape=(2,), dtype=np.int32),
        }
        if self.MASKS:
            features.update(
                mask=tfds.features.Image(shape=(None, None, 1)),
                ignore_mask=tfds.features.Image(shape=(None, None, 1)),
            )
        else:
            features.update(
                objects=tfds.features.Sequence(
                    {"bbox": tfds.features.BBoxFeature()}
                ),
                wsol_boxes=tfds.features.Tensor(
                    shape=(None, 4), dtype=np.int32
                ),
            )
        return tfds.features.FeaturesDict(features)

    def _split_generators(self, dl_manager):
        manual = epath.Path(dl_manager.manual_dir)
        metadata = manual / "metadata" / self.FOLDER
        images = manual / self.FOLDER
        for what, path in (
            (f"metadata/{self.FOLDER}/ (wsolevaluation's metadata)", metadata),
            (f"{self.FOLDER}/ (the images)", images),
        ):
            if not path.exists():
                raise AssertionError(
                    f"Manual dir {os.fspath(manual)!r} has no {what}: "
                    f"expected {os.fspath(path)}; see "
                    f"has_tf/datasets/{self.name}/README.md."
                )
        return {
            split: self._generate_examples(metadata / folder, images, split)
            for split, folder in SPLITS.items()
        }

    def _faults(self, split):
        return Faults(
            self.name, split, self.builder_config.on_corrupt == "fail"
        )

    def _generate_examples(self, folder, images, split):
        faults = self._faults(split)
        rows = read_split(folder, faults)
        evaluation = split != "train"
        built = 0
        for image_id in rows.image_ids:
            if rows.labels.get(image_id) is _CONFLICT:
                continue  # Named when read.
            if rows.sizes.get(image_id) is _CONFLICT:
                continue
            if image_id not in rows.labels:
                faults.skip(
                    "images_without_labels",
                    image_id,
                    "no line in class_labels.txt",
                )
                continue
            label = rows.labels[image_id]
            if not 0 <= label < self.NUM_CLASSES:
                faults.skip(
                    "bad_labels",
                    image_id,
                    f"label {label} outside 0..{self.NUM_CLASSES - 1}",
                )
                continue
            example = self._example(
                images, image_id, label, rows, faults, evaluation
            )
            if example is not None:
                built += 1
                yield image_id, example
        faults.summary(built)

    def _example(self, images, image_id, label, rows, faults, evaluation):
        path = images / image_id
        if not path.exists():
            faults.skip("missing_images", image_id, f"no file {path}")
            return None
        data = path.read_bytes()
        pil = tfds.core.lazy_imports.PIL_Image
        try:
            image = pil.open(io.BytesIO(data))
            image.load()
            tf.io.decode_image(data, channels=3, expand_animations=False)
        except Exception as error:  # Any decoding failure.
            faults.skip(
                "corrupt_images", image_id, f"does not decode ({error})"
            )
            return None
        width, height = image.size
        stated = rows.sizes.get(image_id, (width, height))
        if tuple(stated) != (width, height):
            swapped = tuple(stated) == (height, width)
            faults.skip(
                "size_mismatches",
                image_id,
                f"image_sizes.txt states {stated[0]} x {stated[1]} (width x "
                f"height), the file is {width} x {height}"
                + (": width and height swapped" if swapped else ""),
            )
            return None
        if image.mode != "RGB" or image.format != "JPEG":
            image_field = np.asarray(image.convert("RGB"))
        else:
            image_field = io.BytesIO(data)
        example = {
            "image": image_field,
            "label": label,
            "image_id": image_id,
            "file_name": os.path.basename(image_id),
            "image_size": np.array(stated, np.int32),
        }
        if self.MASKS:
            mask, ignore = self._masks(
                images, image_id, rows, faults, (height, width), evaluation
            )
            if mask is None:
                return None
            example.update(mask=mask, ignore_mask=ignore)
            return example
        boxes = _inside(rows.boxes.get(image_id, []), stated, image_id, faults)
        if evaluation and not boxes:
            faults.skip(
                "images_without_boxes", image_id, "no box in localization.txt"
            )
            return None
        # The tool's corners are in the stated size's pixels.
        sw, sh = stated
        scale = np.array([sh, sw, sh, sw], np.float64)
        normalized = []
        for x0, y0, x1, y1 in boxes:
            box = np.clip(np.array([y0, x0, y1 + 1, x1 + 1]) / scale, 0, 1)
            normalized.append(tfds.features.BBox(*box.tolist()))
        example.update(
            objects={"bbox": normalized},
            wsol_boxes=np.array(boxes, np.int32).reshape(-1, 4),
        )
        return example

    def _masks(self, images, image_id, rows, faults, shape, evaluation):
        empty = np.zeros((*shape, 1), np.uint8)
        paths = rows.masks.get(image_id, [])
        if not paths:
            if evaluation:
                faults.skip(
                    "images_without_masks",
                    image_id,
                    "no mask in localization.txt",
                )
                return None, None
            return empty, empty
        pil = tfds.core.lazy_imports.PIL_Image

        def read(name):
            path = images / name
            try:
                array = np.asarray(pil.open(io.BytesIO(path.read_bytes())))
            except Exception as error:  # Missing or undecodable.
                faults.skip("bad_masks", name, f"unreadable ({error})")
                return None
            if array.ndim == 3:
                array = array[..., 0]
            if array.shape != shape:
                faults.skip(
                    "bad_masks",
                    name,
                    f"shape {array.shape} is not the image's {shape}",
                )
                return None
            return array > 0

        union = np.zeros(shape, bool)
        for name in paths:
            part = read(name)
            if part is None:
                return None, None
            union |= part
        ignore = np.zeros(shape, bool)
        if rows.ignore.get(image_id):
            part = read(rows.ignore[image_id])
            if part is None:
                return None, None
            ignore = part & ~union
        return (
            union[..., None].astype(np.uint8),
            ignore[..., None].astype(np.uint8),
        )
