"""Scoring CAMs from any framework: wsolevaluation's metadata and frames.

The metadata folder follows clovaai/wsolevaluation (Choe et al., CVPR
2020), one line per entry, comma-separated:

- `image_ids.txt`: `id` (the order images are scored in);
- `class_labels.txt`: `id,label`;
- `image_sizes.txt`: `id,width,height` (needed for boxes);
- `localization.txt`: `id,x0,y0,x1,y1` per box (pixel corners in the
  original image, several lines per image for several boxes), or
  `id,mask[,ignore]` per mask (paths of mask images; the ignore mask on
  an image's first line only, as the official files have it).

`CamEvaluator` scores one CAM at a time under either protocol of
`ThresholdFreeLocalization`:

- "wsolevaluation": as the official tool. The CAM is resized to
  `size x size` (224) with OpenCV's bicubic rule and min-max normalised;
  each box is scaled from the image's own size to that frame and
  truncated to integers (`int()`), kept as the tool's inclusive corners;
  masks are resized with nearest neighbours and read as `> 0.5`.
- "has_tf": the CAM is scored at its own size; boxes become continuous
  boxes (a corner box covers pixels x0..x1, so it ends at x1 + 1) scaled
  from the image's size to the CAM's; masks are resized with nearest
  neighbours.

NumPy only; `python -m has_tf.evaluate_cams` reads the files.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from has_tf import _checks
from has_tf.metrics.boxes import BOX_PROTOCOLS
from has_tf.metrics.boxes import PixelAveragePrecision
from has_tf.metrics.boxes import ThresholdFreeLocalization
from has_tf.metrics.boxes import default_thresholds
from has_tf.postprocess import wsolevaluation

__all__ = [
    "CamEvaluator",
    "Metadata",
    "check_cam",
    "MetadataError",
    "read_metadata",
    "resize_nearest",
    "scale_box",
]


class MetadataError(ValueError):
    """A metadata file or line that cannot be read (names file and line)."""


@dataclasses.dataclass
class Metadata:
    """A split's metadata.

    Attributes:
      image_ids: ids in scoring order.
      labels: `{id: class}`.
      sizes: `{id: (width, height)}` (empty when masks are scored).
      boxes: `{id: [(x0, y0, x1, y1), ...]}` corner boxes, or None.
      masks: `{id: [mask path, ...]}`, or None.
      ignore: `{id: ignore mask path or ""}`, with masks.
    """

    image_ids: list
    labels: dict
    sizes: dict
    boxes: dict | None = None
    masks: dict | None = None
    ignore: dict | None = None


def _lines(path: str, fields: tuple, numeric: int = 0):
    """(line number, fields) of a metadata file; errors name file:line."""
    if not os.path.exists(path):
        raise MetadataError(f"Missing metadata file {path}.")
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = line.split(",")
            if len(parts) not in fields:
                raise MetadataError(
                    f"{path}:{number}: expected {' or '.join(map(str, fields))}"
                    f" comma-separated fields. Received: {line!r}"
                )
            try:
                values = [int(v) for v in parts[1 : 1 + numeric]]
            except ValueError:
                raise MetadataError(
                    f"{path}:{number}: expected integers after the id. "
                    f"Received: {line!r}"
                ) from None
            yield number, parts, values


def _unique(path, fields, numeric, value, positive=False) -> dict:
    """id -> `value(numbers)` of a metadata file with one line per id."""
    table, seen = {}, {}
    for number, parts, values in _lines(path, fields, numeric=numeric):
        if parts[0] in seen:
            raise MetadataError(
                f"{path}:{number}: image {parts[0]!r} appears twice (line "
                f"{seen[parts[0]]} too)."
            )
        if positive and min(values) <= 0:
            raise MetadataError(
                f"{path}:{number}: expected a positive width and height. "
                f"Received: {','.join(parts)!r}"
            )
        seen[parts[0]] = number
        table[parts[0]] = value(values)
    return table


def read_metadata(metadata_dir: str) -> Metadata:
    """Reads a wsolevaluation metadata folder (module docstring).

    Raises:
      MetadataError: a missing file, a malformed line (file:line named),
        an image listed twice, a size not positive, an image without a
        label, size or localization, or a box whose corners are out of
        order or outside its image.
    """
    join = os.path.join
    ids_path = join(metadata_dir, "image_ids.txt")
    image_ids = []
    first_line = {}
    for number, parts, _ in _lines(ids_path, (1,)):
        if parts[0] in first_line:
            raise MetadataError(
                f"{ids_path}:{number}: image {parts[0]!r} is listed twice "
                f"(line {first_line[parts[0]]} too)."
            )
        first_line[parts[0]] = number
        image_ids.append(parts[0])
    if not image_ids:
        raise MetadataError(f"{ids_path}: no image ids.")
    labels = _unique(
        join(metadata_dir, "class_labels.txt"), (2,), 1, lambda v: v[0]
    )
    loc_path = join(metadata_dir, "localization.txt")
    rows = list(_lines(loc_path, (2, 3, 5)))
    is_boxes = bool(rows) and len(rows[0][1]) == 5
    metadata = Metadata(image_ids, labels, {})
    if is_boxes:
        sizes_path = join(metadata_dir, "image_sizes.txt")
        metadata.sizes = _unique(sizes_path, (3,), 2, tuple, positive=True)
        metadata.boxes = {}
        for number, parts, _ in rows:
            where = f"{loc_path}:{number}"
            if len(parts) != 5:
                raise MetadataError(
                    f"{where}: expected id,x0,y0,x1,y1 like the lines "
                    f"before. Received: {','.join(parts)!r}"
                )
            try:
                box = tuple(int(v) for v in parts[1:])
            except ValueError:
                raise MetadataError(
                    f"{where}: expected integer corners. Received: "
                    f"{','.join(parts)!r}"
                ) from None
            if box[2] < box[0] or box[3] < box[1]:
                raise MetadataError(
                    f"{where}: expected x0 <= x1 and y0 <= y1. Received: {box}"
                )
            size = metadata.sizes.get(parts[0])
            if size is not None and not (
                0 <= box[0]
                and 0 <= box[1]
                and box[2] <= size[0] - 1
                and box[3] <= size[1] - 1
            ):
                raise MetadataError(
                    f"{where}: the box {box} leaves its image of width "
                    f"{size[0]} and height {size[1]} (image_sizes.txt); "
                    "expected 0 <= x0 <= x1 <= width - 1 and 0 <= y0 <= "
                    "y1 <= height - 1 (are width and height swapped?)."
                )
            metadata.boxes.setdefault(parts[0], []).append(box)
    else:
        metadata.masks, metadata.ignore = {}, {}
        for number, parts, _ in rows:
            if len(parts) not in (2, 3):
                raise MetadataError(
                    f"{loc_path}:{number}: expected id,mask[,ignore]. "
                    f"Received: {','.join(parts)!r}"
                )
            first = parts[0] not in metadata.masks
            metadata.masks.setdefault(parts[0], []).append(parts[1])
            if first:
                metadata.ignore[parts[0]] = parts[2] if len(parts) == 3 else ""
    for image_id in image_ids:
        missing = [
            name
            for name, table in (
                ("class_labels.txt", labels),
                ("image_sizes.txt", metadata.sizes if is_boxes else None),
                (
                    "localization.txt",
                    metadata.boxes if is_boxes else metadata.masks,
                ),
            )
            if table is not None and image_id not in table
        ]
        if missing:
            raise MetadataError(
                f"Image {image_id!r} of image_ids.txt has no line in "
                f"{', '.join(missing)} ({metadata_dir})."
            )
    return metadata


def scale_box(box, image_size, size, protocol: str) -> np.ndarray:
    """A corner box `(x0, y0, x1, y1)` of the original image, in the frame.

    Args:
      box: pixel corners in the original image (x1, y1 the last pixels).
      image_size: `(width, height)` of the original image.
      size: `(width, height)` of the CAM's frame.
      protocol: "wsolevaluation" (the tool's `resize_bbox`: scale, then
        `int()` each corner; returns its corners) or "has_tf" (the
        continuous box `[x0, x1 + 1)`, scaled; returns float boxes).

    Returns:
      `(ymin, xmin, ymax, xmax)`: int corners or float continuous box.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    sx = size[0] / float(image_size[0])
    sy = size[1] / float(image_size[1])
    if protocol == "wsolevaluation":
        return np.array(
            [int(y0 * sy), int(x0 * sx), int(y1 * sy), int(x1 * sx)],
            np.int64,
        )
    return np.array([y0 * sy, x0 * sx, (y1 + 1) * sy, (x1 + 1) * sx])


def _nearest_indices(source: int, target: int) -> np.ndarray:
    """OpenCV's INTER_NEAREST source index of each of `target` outputs:
    floor(i * (1 / (target / source))) in double precision, clamped. (Not
    floor(i * source / target): the two differ where the exact product
    is an integer, e.g. 1600 -> 224 at columns 35, 63, 70, ...)"""
    inverse = 1.0 / (target / source)
    return np.minimum(
        np.floor(np.arange(target) * inverse).astype(np.int64), source - 1
    )


def resize_nearest(mask, size) -> np.ndarray:
    """Nearest-neighbour resize to `(H, W)`, as OpenCV's `cv2.resize(...,
    interpolation=cv2.INTER_NEAREST)` (`_nearest_indices`)."""
    mask = np.asarray(mask)
    height, width = size
    rows = _nearest_indices(mask.shape[0], height)
    cols = _nearest_indices(mask.shape[1], width)
    return mask[rows][:, cols]


def check_cam(cam, where: str = "") -> np.ndarray:
    """`cam` as an array, if it is a non-empty 2-D finite real one.

    Raises:
      ValueError: otherwise, naming `where` (a file) if given. (NaN is
        refused as the official tool's evaluator refuses it.)
    """
    cam = np.asarray(cam)
    place = f" in {where}" if where else ""
    if (
        cam.ndim != 2
        or not cam.size
        or not np.issubdtype(cam.dtype, np.number)
        or np.iscomplexobj(cam)
    ):
        raise ValueError(
            f"Expected a non-empty 2-D real CAM{place}. Received: shape "
            f"{cam.shape}, dtype {cam.dtype}"
        )
    if not np.isfinite(cam).all():
        raise ValueError(
            f"Expected a finite CAM{place}: it holds NaN or infinity."
        )
    return cam


class CamEvaluator:
    """MaxBoxAcc, MaxBoxAccV2 (boxes) or PxAP (masks) over CAMs.

    Args:
      protocol: "has_tf" or "wsolevaluation" (module docstring).
      thresholds: the CAM threshold grid; None: steps of 0.01 ("has_tf")
        or 0.001 (wsolevaluation's default `cam_curve_interval`).
      iou_thresholds: MaxBoxAccV2's IoUs.
      connectivity: components' connectivity ("has_tf" only).
      size: the side of wsolevaluation's frame (224).
    """

    def __init__(
        self,
        protocol: str = "has_tf",
        thresholds=None,
        iou_thresholds=(0.3, 0.5, 0.7),
        connectivity: int = 8,
        size: int = 224,
    ):
        _checks.choice(protocol, "protocol", BOX_PROTOCOLS)
        self.protocol = protocol
        self.size = _checks.positive_int(size, "size")
        if thresholds is None:
            thresholds = default_thresholds(
                0.001 if protocol == "wsolevaluation" else 0.01
            )
        self.boxes = ThresholdFreeLocalization(
            thresholds,
            iou_thresholds,
            connectivity=connectivity,
            protocol=protocol,
        )
        self.masks = PixelAveragePrecision(thresholds, protocol=protocol)
        self.scored_boxes = self.scored_masks = 0

    def frame(self, cam) -> np.ndarray:
        """The CAM in the protocol's frame (resized and normalised for
        wsolevaluation, as its inference saves score maps).

        Raises:
          ValueError: a CAM that is not a non-empty 2-D finite real array.
        """
        cam = check_cam(cam)
        if self.protocol == "wsolevaluation":
            cam = wsolevaluation.resize_cam_bicubic(cam, (self.size, self.size))
            return wsolevaluation.wsolevaluation_normalize(cam)
        return cam

    def add_boxes(self, cam, boxes, image_size, label=None) -> None:
        """Scores one CAM against corner boxes of an image of `image_size`
        `(width, height)`."""
        cam = self.frame(cam)
        frame = (cam.shape[1], cam.shape[0])
        gt = np.stack(
            [scale_box(b, image_size, frame, self.protocol) for b in boxes]
        )
        self.boxes.update(cam, gt, label=label)
        self.scored_boxes += 1

    def add_frame_boxes(self, cam, gt_boxes, label=None) -> None:
        """Scores one CAM against boxes already in its frame.

        For CAMs made in the evaluation frame (`has_tf.evaluate`): the CAM
        is used as it is, and `gt_boxes` `[M, 4]` are in its pixels,
        continuous for "has_tf" or the tool's corners for
        "wsolevaluation".
        """
        self.boxes.update(cam, gt_boxes, label=label)
        self.scored_boxes += 1

    def add_mask(self, cam, mask, ignore=None) -> None:
        """Scores one CAM against a foreground mask (any size; resized to
        the CAM's frame) and an optional ignore mask."""
        cam = self.frame(cam)
        mask = resize_nearest(mask, cam.shape)
        if ignore is not None:
            ignore = resize_nearest(ignore, cam.shape) & ~mask
        self.masks.update(cam, mask, ignore)
        self.scored_masks += 1

    def merge(self, other: CamEvaluator) -> None:
        """Adds what `other` (the same settings) scored: evaluators of
        parts of a set, merged, give the figures of the whole."""
        if not isinstance(other, CamEvaluator) or other.size != self.size:
            raise ValueError(
                "Expected a CamEvaluator of the same frame size to merge. "
                f"Received: {other!r}"
            )
        self.boxes.merge(other.boxes)
        self.masks.merge(other.masks)
        self.scored_boxes += other.scored_boxes
        self.scored_masks += other.scored_masks

    def result(self) -> dict:
        """The figures, fractions in [0, 1], and the curves.

        Returns:
          With boxes: "max_box_acc", "max_box_acc_v2",
          "max_box_acc_v2_per_iou" (`{"0.3": accuracy, ...}`),
          "best_thresholds", "box_acc_curve"; with masks: "pxap",
          "pr_curve"; always "protocol", "count" and "num_thresholds".
        """
        out = {"protocol": self.protocol}
        if self.scored_boxes:
            free = self.boxes.result()
            per_iou = free["max_box_acc_v2_per_iou"]
            out.update(
                max_box_acc=free.get("max_box_acc", 0.0),
                max_box_acc_v2=free["max_box_acc_v2"],
                max_box_acc_v2_per_iou={
                    k: v["accuracy"] for k, v in per_iou.items()
                },
                best_thresholds={
                    "max_box_acc": free.get("max_box_acc_threshold"),
                    **{k: v["threshold"] for k, v in per_iou.items()},
                },
                box_acc_curve=free.get("box_acc_curve"),
                count=self.scored_boxes,
                num_thresholds=free["num_thresholds"],
            )
        if self.scored_masks:
            pixels = self.masks.result()
            out.update(
                pxap=pixels["pxap"],
                pr_curve={
                    k: pixels[k] for k in ("thresholds", "precision", "recall")
                },
                count=self.scored_masks,
                num_thresholds=len(pixels["thresholds"]),
            )
        return out
