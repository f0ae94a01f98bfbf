"""CUB-200-2011 through TFDS `caltech_birds2011`, in has_tf's feature names.

TFDS's version has one `bbox` per image and a `segmentation_mask`; the
adapter renames them to `objects/bbox` (`[1, 4]`) and `mask`, so the same
pipelines and metrics (PxAP included) run on CUB as on the other datasets.
"""

from __future__ import annotations

import tensorflow as tf

TFDS_NAME = "caltech_birds2011"


def cub_example(example: dict) -> dict:
    """Maps one `caltech_birds2011` example to has_tf's feature names.

    Returns:
      `{"image": uint8 [H, W, 3], "label": int64 [], "objects":
      {"bbox": float32 [1, 4]}, "mask": uint8 [H, W, 1]}`.
    """
    return {
        "image": example["image"],
        "label": example["label"],
        "objects": {"bbox": tf.reshape(example["bbox"], [1, 4])},
        "mask": example["segmentation_mask"],
    }
