"""Writes the `dummy_data/` manual dirs of wsol_cub, wsol_imagenet and
openimages30k: a few small images in wsolevaluation's layout, with
metadata lines in its formats (ids as its files spell them) and a few bad
rows the builders must name, count and skip.

    python has_tf/datasets/make_wsol_dummy_data.py
"""

from __future__ import annotations

import io
import os
import shutil

import numpy as np
from PIL import Image

_HERE = os.path.dirname(os.path.abspath(__file__))


def _jpeg(path, width, height, seed):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels).save(path, format="JPEG", quality=80)


def _png(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buffer = io.BytesIO()
    Image.fromarray(array.astype(np.uint8)).save(buffer, format="PNG")
    with open(path, "wb") as f:
        f.write(buffer.getvalue())


def _write(folder, name, lines):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "w") as f:
        f.write("".join(f"{line}\n" for line in lines))


def _box_split(root, folder, split, images, extra=()):
    """images: [(id, label, (width, height), [boxes] or None)]."""
    meta = os.path.join(root, "metadata", folder, split)
    _write(meta, "image_ids.txt", [i for i, *_ in images] + list(extra))
    _write(
        meta, "class_labels.txt", [f"{i},{label}" for i, label, *_ in images]
    )
    _write(
        meta, "image_sizes.txt", [f"{i},{w},{h}" for i, _, (w, h), _ in images]
    )
    _write(
        meta,
        "localization.txt",
        [
            f"{i},{x0},{y0},{x1},{y1}"
            for i, _, _, boxes in images
            for x0, y0, x1, y1 in boxes or ()
        ],
    )
    for seed, (image_id, _, (w, h), _) in enumerate(images):
        _jpeg(os.path.join(root, folder, image_id), w, h, seed)


def write_cub(root):
    a, b = "001.Black_footed_Albatross", "059.California_Gull"
    _box_split(
        root,
        "CUB",
        "train",
        [
            (f"{a}/Black_Footed_Albatross_0001_796111.jpg", 0, (20, 16), None),
            (f"{a}/Black_Footed_Albatross_0002_55.jpg", 0, (18, 18), None),
            (f"{b}/California_Gull_0001_40786.jpg", 58, (24, 16), None),
        ],
        extra=[f"{b}/California_Gull_0002_41026.jpg"],
    )  # Listed, no label.
    with open(
        os.path.join(root, "metadata/CUB/train/class_labels.txt"), "a"
    ) as f:
        f.write("a line without its label\n")  # Malformed: skipped.
    # CUBV2: only 3 images of class 059, as in the real split.
    _box_split(
        root,
        "CUB",
        "val",
        [
            (f"{b}/30107316117.jpg", 58, (20, 16), [(2, 3, 10, 12)]),
            (f"{b}/33844942958.jpg", 58, (16, 20), [(0, 0, 15, 19)]),
            (
                f"{b}/44272303765.jpg",
                58,
                (20, 20),
                [(5, 5, 9, 9), (1, 1, 3, 3)],
            ),
        ],
    )
    _box_split(
        root,
        "CUB",
        "test",
        [
            (
                f"{a}/Black_Footed_Albatross_0046_18.jpg",
                0,
                (20, 16),
                [(4, 2, 15, 13)],
            ),
            (
                f"{b}/California_Gull_0003_40000.jpg",
                58,
                (16, 16),
                [(0, 0, 7, 7)],
            ),
        ],
    )


def write_imagenet(root):
    _box_split(
        root,
        "ILSVRC",
        "train",
        [
            ("train/n01440764/n01440764_10026.JPEG", 0, (20, 16), None),
            ("train/n01443537/n01443537_10007.JPEG", 1, (16, 20), None),
        ],
    )
    for name in ("image_sizes.txt", "localization.txt"):  # Empty there.
        _write(os.path.join(root, "metadata/ILSVRC/train"), name, [])
    _box_split(
        root,
        "ILSVRC",
        "val",
        [
            ("val2/0/0.jpeg", 0, (20, 16), [(2, 2, 12, 10)]),
            ("val2/1/0.jpeg", 1, (20, 20), [(0, 0, 19, 19), (3, 4, 8, 9)]),
        ],
    )
    _box_split(
        root,
        "ILSVRC",
        "test",
        [
            ("val/ILSVRC2012_val_00000001.JPEG", 1, (24, 16), [(1, 2, 20, 14)]),
            (
                "val/ILSVRC2012_val_00000002.JPEG",
                999,
                (16, 16),
                [(4, 4, 11, 11)],
            ),
        ],
    )


def write_openimages(root):
    meta = os.path.join(root, "metadata", "OpenImages")
    train = [
        "train/01226z/0a9b7df4d832baf7.jpg",
        "train/0bt9lr/0abee225b2418fe7.jpg",
    ]
    _write(os.path.join(meta, "train"), "image_ids.txt", train)
    _write(
        os.path.join(meta, "train"),
        "class_labels.txt",
        [f"{train[0]},0", f"{train[1]},1"],
    )
    for split in ("train", "val", "test"):
        for name in ("image_sizes.txt",):
            _write(os.path.join(meta, split), name, [])
    _write(os.path.join(meta, "train"), "localization.txt", [])
    for seed, image_id in enumerate(train):
        _jpeg(os.path.join(root, "OpenImages", image_id), 20, 16, seed)
    shape = (16, 20)
    rows = np.arange(shape[0])[:, None]
    cols = np.arange(shape[1])[None, :]
    for split, images in {
        "val": [("val/01226z/32fdab44f6e415f1", 0, 1)],
        "test": [
            ("test/0bt9lr/0a51958fcd523ae4", 1, 2),
            ("test/01226z/14984e5b51df041c", 0, 1),
        ],
    }.items():
        ids, labels, loc = [], [], []
        for seed, (stem, label, instances) in enumerate(images):
            image_id = f"{stem}.jpg"
            ids.append(image_id)
            labels.append(f"{image_id},{label}")
            _jpeg(os.path.join(root, "OpenImages", image_id), 20, 16, seed)
            mid = stem.split("/")[1]
            for k in range(instances):
                mask = (
                    (rows >= 2 + 5 * k)
                    & (rows < 6 + 5 * k)
                    & (cols >= 3)
                    & (cols < 12)
                ) * 255
                name = f"{stem}_m{mid}_{k:08x}.png"
                _png(os.path.join(root, "OpenImages", name), mask)
                ignore = f"{stem}_ignore.png" if k == 0 else ""
                loc.append(f"{image_id},{name},{ignore}")
            # The ignore box overlaps the first instance: that part is not
            # ignored.
            box = ((rows >= 4) & (rows < 14) & (cols >= 10)) * 255
            _png(os.path.join(root, "OpenImages", f"{stem}_ignore.png"), box)
        _write(os.path.join(meta, split), "image_ids.txt", ids)
        _write(os.path.join(meta, split), "class_labels.txt", labels)
        _write(os.path.join(meta, split), "localization.txt", loc)


def main():
    for name, write in (
        ("wsol_cub", write_cub),
        ("wsol_imagenet", write_imagenet),
        ("openimages30k", write_openimages),
    ):
        root = os.path.join(_HERE, name, "dummy_data")
        shutil.rmtree(root, ignore_errors=True)
        write(root)
        print(f"Written {root}")


if __name__ == "__main__":
    main()
