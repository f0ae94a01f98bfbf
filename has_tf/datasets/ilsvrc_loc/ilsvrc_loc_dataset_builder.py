"""TFDS builder `ilsvrc_loc`: ImageNet-1k with every localization box.

TFDS `imagenet2012` carries no boxes. This builder reads a manual
directory in either layout:

- Kaggle's "ImageNet Object Localization Challenge":
  `ILSVRC/Data/CLS-LOC/train/<wnid>/<wnid>_<n>.JPEG`,
  `ILSVRC/Data/CLS-LOC/val/ILSVRC2012_val_<n>.JPEG`,
  `LOC_train_solution.csv`, `LOC_val_solution.csv`,
  `LOC_synset_mapping.txt`;
- the official ILSVRC2012 archives: `ILSVRC2012_img_train.tar`,
  `ILSVRC2012_img_val.tar`, `ILSVRC2012_bbox_val_v3.tgz` (the validation
  boxes and labels), optionally `ILSVRC2012_bbox_train_v2.tar.gz` (the
  training boxes that exist) and the devkit (not needed: the XML files name
  each image's synset).

Labels follow TFDS `imagenet2012` (its `labels.txt`: synsets in sorted
order). Train examples carry the boxes that exist (often none);
validation examples carry all of their boxes.

Conventions (the annotations do not state them; we chose): box coordinates
in the CSV and XML files are taken as the 0-based indices of the first and
last pixel a box covers, so the continuous box ends one pixel after the
last index; boxes are clipped to the image (and counted). Grayscale and
CMYK images are converted to RGB. A file that does not decode is skipped
and counted (config "default") or stops the build (config "strict").
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import tarfile
import xml.etree.ElementTree as ElementTree

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from absl import logging
from etils import epath

from has_tf.datasets.faults import Faults as _Faults

KAGGLE_FILES = (
    "LOC_synset_mapping.txt",
    "LOC_train_solution.csv",
    "LOC_val_solution.csv",
    "ILSVRC/Data/CLS-LOC/train/",
    "ILSVRC/Data/CLS-LOC/val/",
)
ARCHIVE_FILES = (
    "ILSVRC2012_img_train.tar",
    "ILSVRC2012_img_val.tar",
    "ILSVRC2012_bbox_val_v3.tgz",
)
ARCHIVE_OPTIONAL = ("ILSVRC2012_bbox_train_v2.tar.gz",)


@dataclasses.dataclass
class IlsvrcLocConfig(tfds.core.BuilderConfig):
    """`on_corrupt`: "skip" (name, count and skip the file) or "fail"."""

    on_corrupt: str = "skip"

    def __post_init__(self):
        if self.on_corrupt not in ("skip", "fail"):
            raise ValueError(
                "Expected on_corrupt 'skip' or 'fail'. "
                f"Received: {self.on_corrupt!r}"
            )


def detect_layout(manual_dir) -> str:
    """ "kaggle" or "archives"; a ValueError lists what is missing."""
    root = epath.Path(manual_dir)

    def missing(names):
        return [n for n in names if not (root / n.rstrip("/")).exists()]

    kaggle, archives = missing(KAGGLE_FILES), missing(ARCHIVE_FILES)
    if not kaggle:
        return "kaggle"
    if not archives:
        return "archives"
    raise ValueError(
        f"The manual dir {os.fspath(root)!r} holds neither layout of "
        "ILSVRC2012.\n"
        "Kaggle layout, missing: " + ", ".join(kaggle) + "\n"
        "Official archives, missing: "
        + ", ".join(archives)
        + " (optional: "
        + ", ".join(ARCHIVE_OPTIONAL)
        + ")"
    )


def _parse_solution(path, faults: _Faults) -> dict:
    """Kaggle CSV -> {image id: [(wnid, xmin, ymin, xmax, ymax), ...]}.

    A row that is short, long or not numeric is skipped (named by file and
    line); a partial box at the end of a row is dropped, and counted.
    """
    out = {}
    path = epath.Path(path)
    with path.open() as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != ["ImageId", "PredictionString"]:
            raise ValueError(
                f"{os.fspath(path)}:1: expected the header "
                f"'ImageId,PredictionString'. Received: {header!r}"
            )
        for row in reader:
            where = f"{os.fspath(path)}:{reader.line_num}"
            if len(row) != 2 or not row[0]:
                faults.skip("bad_rows", where, f"expected 2 fields: {row!r}")
                continue
            values = row[1].split()
            if len(values) % 5:
                faults.skip(
                    "partial_boxes",
                    where,
                    f"{len(values) % 5} values of a partial box dropped",
                )
                values = values[: len(values) - len(values) % 5]
            try:
                out[row[0]] = [
                    (values[i], *map(float, values[i + 1 : i + 5]))
                    for i in range(0, len(values), 5)
                ]
            except ValueError:
                faults.skip("bad_rows", where, f"non-numeric box: {row[1]!r}")
    return out


def _files_of(tar, name: str, faults: "_Faults"):
    """`(member, bytes)` of each file in an open tar; a truncated or
    corrupt archive ends the walk as a fault naming it and the last file
    read (the files before it are kept)."""
    last = "its first member"
    try:
        for member in tar:
            if not member.isfile():
                continue
            data = tar.extractfile(member).read()
            last = member.name
            yield member, data
    except (tarfile.TarError, EOFError, OSError) as error:
        faults.skip(
            "truncated_archives",
            name,
            f"unreadable after {last} ({type(error).__name__}: {error})",
        )


def _parse_xml(data: bytes):
    """ILSVRC XML -> (file stem, [(wnid, xmin, ymin, xmax, ymax), ...]).

    Raises:
      ValueError: malformed XML or a box with a missing or non-numeric
        coordinate.
    """
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise ValueError(f"malformed XML ({error})") from None
    stem = os.path.splitext(root.findtext("filename", ""))[0]
    boxes = []
    for obj in root.iter("object"):
        box = obj.find("bndbox")
        coords = []
        for key in ("xmin", "ymin", "xmax", "ymax"):
            text = box.findtext(key) if box is not None else None
            try:
                coords.append(float(text))
            except (TypeError, ValueError):
                raise ValueError(
                    f"object {obj.findtext('name')!r}: <{key}> is "
                    f"{'missing' if text is None else repr(text)}"
                ) from None
        boxes.append((obj.findtext("name"), *coords))
    return stem, boxes


def _xml_archive(path, faults: _Faults) -> dict:
    out = {}
    with epath.Path(path).open("rb") as f, tarfile.open(fileobj=f) as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".xml"):
                where = f"{os.fspath(path)}:{member.name}"
                try:
                    stem, boxes = _parse_xml(archive.extractfile(member).read())
                except ValueError as error:
                    faults.skip("bad_xml", where, str(error))
                    continue
                name = (
                    stem or os.path.splitext(os.path.basename(member.name))[0]
                )
                out[name] = boxes
    return out


class IlsvrcLoc(tfds.core.GeneratorBasedBuilder):
    """ImageNet-1k (ILSVRC2012) with localization boxes."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = [
        IlsvrcLocConfig(
            name="default", description="Corrupt files are skipped, counted."
        ),
        IlsvrcLocConfig(
            name="strict",
            on_corrupt="fail",
            description="A corrupt file stops the build.",
        ),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put either Kaggle's 'ImageNet Object Localization Challenge' "
        "files ("
        + ", ".join(KAGGLE_FILES)
        + ") or the official archives ("
        + ", ".join(ARCHIVE_FILES + ARCHIVE_OPTIONAL)
        + ") in manual_dir."
    )

    def _info(self) -> tfds.core.DatasetInfo:
        names = tfds.core.tfds_path("datasets/imagenet2012/labels.txt")
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(
                        shape=(None, None, 3), encoding_format="jpeg"
                    ),
                    "label": tfds.features.ClassLabel(names_file=names),
                    "objects": tfds.features.Sequence(
                        {
                            "bbox": tfds.features.BBoxFeature(),
                        }
                    ),
                    "file_name": tfds.features.Text(),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://image-net.org/challenges/LSVRC/2012/",
        )

    @property
    def _wnids(self) -> frozenset:
        """The 1000 class ids a label may be."""
        if not hasattr(self, "_wnid_set"):
            self._wnid_set = frozenset(self.info.features["label"].names)
        return self._wnid_set

    def _split_generators(self, dl_manager):
        manual = epath.Path(dl_manager.manual_dir)
        layout = detect_layout(manual)
        return {
            "train": self._generate_examples(manual, layout, "train"),
            "validation": self._generate_examples(manual, layout, "val"),
        }

    def _generate_examples(self, manual, layout, split):
        if layout == "kaggle":
            return self._kaggle(manual, split)
        if split == "train":
            return self._archive_train(manual)
        return self._archive_val(manual)

    # ---------------------------------------------------------------- Kaggle

    def _faults(self, split: str) -> _Faults:
        return _Faults(
            "ilsvrc_loc", split, self.builder_config.on_corrupt == "fail"
        )

    def _kaggle(self, manual, split):
        faults = self._faults(split)
        solution = _parse_solution(manual / f"LOC_{split}_solution.csv", faults)
        images = manual / "ILSVRC" / "Data" / "CLS-LOC" / split
        if split == "train":
            items = [
                (path, folder.name)
                for folder in sorted(images.iterdir())
                for path in sorted(folder.iterdir())
            ]
        else:
            items = []
            for image_id, boxes in sorted(solution.items()):
                if not boxes:  # An empty PredictionString, or no full box.
                    faults.skip(
                        "images_without_boxes",
                        f"{image_id}.JPEG",
                        f"no box in LOC_{split}_solution.csv",
                    )
                    continue
                items.append((images / f"{image_id}.JPEG", boxes[0][0]))
        built = 0
        for path, wnid in items:
            stem = path.stem
            example = self._example(
                path.name,
                path.read_bytes(),
                wnid,
                solution.get(stem, []),
                faults,
                needs_box=split == "val",
            )
            if example is not None:
                built += 1
                yield stem, example
        faults.summary(built)

    # -------------------------------------------------------------- archives

    def _archive_val(self, manual):
        faults = self._faults("validation")
        boxes = _xml_archive(manual / "ILSVRC2012_bbox_val_v3.tgz", faults)
        built = 0
        with (
            (manual / "ILSVRC2012_img_val.tar").open("rb") as f,
            tarfile.open(fileobj=f) as tar,
        ):
            for member, data in _files_of(
                tar, "ILSVRC2012_img_val.tar", faults
            ):
                name = os.path.basename(member.name)
                stem = os.path.splitext(name)[0]
                if stem not in boxes or not boxes[stem]:
                    faults.skip(
                        "images_without_boxes",
                        name,
                        "no boxes in ILSVRC2012_bbox_val_v3.tgz",
                    )
                    continue
                example = self._example(
                    name,
                    data,
                    boxes[stem][0][0],
                    boxes[stem],
                    faults,
                    needs_box=True,
                )
                if example is not None:
                    built += 1
                    yield stem, example
        faults.summary(built)

    def _archive_train(self, manual):
        faults = self._faults("train")
        optional = manual / ARCHIVE_OPTIONAL[0]
        boxes = _xml_archive(optional, faults) if optional.exists() else {}
        built = 0
        with (
            (manual / "ILSVRC2012_img_train.tar").open("rb") as f,
            tarfile.open(fileobj=f) as tar,
        ):
            for member, data in _files_of(
                tar, "ILSVRC2012_img_train.tar", faults
            ):
                if not member.name.endswith(".tar"):
                    continue
                wnid = os.path.splitext(os.path.basename(member.name))[0]
                try:
                    inner = tarfile.open(fileobj=io.BytesIO(data))
                except (tarfile.TarError, EOFError, OSError) as error:
                    faults.skip(
                        "truncated_archives",
                        member.name,
                        f"unreadable ({type(error).__name__}: {error})",
                    )
                    continue
                with inner:
                    for image, image_data in _files_of(
                        inner, member.name, faults
                    ):
                        name = os.path.basename(image.name)
                        stem = os.path.splitext(name)[0]
                        example = self._example(
                            name,
                            image_data,
                            wnid,
                            boxes.get(stem, []),
                            faults,
                        )
                        if example is not None:
                            built += 1
                            yield stem, example
        faults.summary(built)

    # ---------------------------------------------------------------- shared

    def _example(self, name, data, wnid, boxes, faults, needs_box=False):
        """Decodes, converts to RGB and normalises boxes; None to skip.

        The image must decode with PIL and with TensorFlow's own decoder
        (which later reads it): PIL accepts JPEGs missing their last
        bytes. Boxes with min > max are skipped as faults; boxes wholly
        outside the image are dropped and counted (they could never
        match); an image that needs a box and has none left is skipped.
        """
        if wnid not in self._wnids:
            faults.skip(
                "unknown_wnids",
                name,
                f"{wnid!r} is none of the 1000 ILSVRC2012 classes",
            )
            return None
        pil = tfds.core.lazy_imports.PIL_Image
        try:
            image = pil.open(io.BytesIO(data))
            image.load()
            tf.io.decode_image(data, channels=3, expand_animations=False)
        except Exception as error:  # Any decoding failure.
            faults.skip("corrupt_images", name, f"does not decode ({error})")
            return None
        width, height = image.size
        if image.mode != "RGB" or image.format != "JPEG":
            image_field = np.asarray(image.convert("RGB"))
        else:
            image_field = io.BytesIO(data)
        scale = np.array([height, width, height, width], np.float64)
        normalized = []
        for _, xmin, ymin, xmax, ymax in boxes:
            if xmin > xmax or ymin > ymax:
                faults.skip(
                    "inverted_boxes",
                    name,
                    f"box (xmin {xmin}, ymin {ymin}, xmax {xmax}, ymax "
                    f"{ymax}) has min > max",
                )
                continue
            box = np.array([ymin, xmin, ymax + 1, xmax + 1]) / scale
            clipped = np.clip(box, 0.0, 1.0)
            if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
                faults.count("boxes_outside_the_image")
                continue
            if not np.array_equal(clipped, box):
                faults.count("clipped_boxes")
            normalized.append(tfds.features.BBox(*clipped.tolist()))
        if needs_box and not normalized:
            faults.count("images_left_without_boxes")
            logging.warning(
                "ilsvrc_loc %s: skipping %s: no box inside the image.",
                faults.split,
                name,
            )
            return None
        return {
            "image": image_field,
            "label": wnid,
            "objects": {"bbox": normalized},
            "file_name": name,
        }
