"""Writes the tiny fake manual dirs in `dummy_data/` (both layouts).

From the repository root:
`python -m has_tf.datasets.ilsvrc_loc.make_dummy_data`.
Kaggle layout: 3 classes x 2 training images, one grayscale, one CMYK and
one corrupt extra training file, 3 validation images (one with two boxes,
one box running past the image). Archives: the same images in the official tars.
"""

import io
import os
import shutil
import tarfile

import numpy as np
from PIL import Image

WNIDS = ("n01440764", "n01443537", "n01484850")
HERE = os.path.join(os.path.dirname(__file__), "dummy_data")


def _jpeg(seed, mode="RGB", size=(24, 20)):
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "L": 1, "CMYK": 4}[mode]
    pixels = rng.integers(0, 255, (size[1], size[0], channels), np.uint8)
    image = Image.fromarray(pixels.squeeze(), mode=mode)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def _xml(stem, wnid, boxes, width=24, height=20):
    objects = "".join(
        f"<object><name>{wnid}</name><bndbox><xmin>{b[0]}</xmin>"
        f"<ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax>"
        "</bndbox></object>"
        for b in boxes
    )
    return (
        f"<annotation><filename>{stem}</filename><size><width>{width}"
        f"</width><height>{height}</height></size>{objects}"
        "</annotation>"
    ).encode()


TRAIN = {
    f"{w}_{i}": (w, 10 * k + i) for k, w in enumerate(WNIDS) for i in (1, 2)
}
TRAIN_BOXES = {
    "n01440764_1": [(2, 3, 10, 12)],
    "n01484850_2": [(0, 0, 30, 19)],
}  # Runs past the width.
VAL = {
    "ILSVRC2012_val_00000001": ("n01443537", [(1, 1, 8, 8)]),
    "ILSVRC2012_val_00000002": ("n01440764", [(0, 0, 5, 5), (10, 10, 20, 15)]),
    "ILSVRC2012_val_00000003": ("n01484850", [(4, 2, 23, 19)]),
}


def _add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def kaggle(root):
    train = os.path.join(root, "ILSVRC", "Data", "CLS-LOC", "train")
    val = os.path.join(root, "ILSVRC", "Data", "CLS-LOC", "val")
    for stem, (wnid, seed) in TRAIN.items():
        os.makedirs(os.path.join(train, wnid), exist_ok=True)
        with open(os.path.join(train, wnid, f"{stem}.JPEG"), "wb") as f:
            f.write(_jpeg(seed))
    with open(os.path.join(train, WNIDS[1], f"{WNIDS[1]}_3.JPEG"), "wb") as f:
        f.write(_jpeg(99, mode="L"))  # Grayscale.
    with open(os.path.join(train, WNIDS[2], f"{WNIDS[2]}_4.JPEG"), "wb") as f:
        f.write(_jpeg(97, mode="CMYK"))
    with open(os.path.join(train, WNIDS[0], f"{WNIDS[0]}_9.JPEG"), "wb") as f:
        f.write(_jpeg(98)[:60])  # Truncated: corrupt.
    os.makedirs(val, exist_ok=True)
    for k, stem in enumerate(VAL):
        with open(os.path.join(val, f"{stem}.JPEG"), "wb") as f:
            f.write(_jpeg(50 + k))
    with open(os.path.join(root, "LOC_synset_mapping.txt"), "w") as f:
        f.writelines(f"{w} a class\n" for w in WNIDS)
    for split, rows in (
        (
            "train",
            {
                s: [(TRAIN[s][0], *b) for b in bs]
                for s, bs in TRAIN_BOXES.items()
            },
        ),
        ("val", {s: [(w, *b) for b in bs] for s, (w, bs) in VAL.items()}),
    ):
        with open(os.path.join(root, f"LOC_{split}_solution.csv"), "w") as f:
            f.write("ImageId,PredictionString\n")
            for stem, boxes in rows.items():
                text = " ".join(" ".join(map(str, b)) for b in boxes)
                f.write(f"{stem},{text} \n")


def archives(root):
    os.makedirs(root, exist_ok=True)
    with tarfile.open(
        os.path.join(root, "ILSVRC2012_img_train.tar"), "w"
    ) as outer:
        for wnid in WNIDS:
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as inner:
                for stem, (w, seed) in TRAIN.items():
                    if w == wnid:
                        _add(inner, f"{stem}.JPEG", _jpeg(seed))
            _add(outer, f"{wnid}.tar", buffer.getvalue())
    with tarfile.open(
        os.path.join(root, "ILSVRC2012_bbox_train_v2.tar.gz"), "w:gz"
    ) as tar:
        for stem, boxes in TRAIN_BOXES.items():
            wnid = TRAIN[stem][0]
            _add(tar, f"{wnid}/{stem}.xml", _xml(stem, wnid, boxes))
    with tarfile.open(os.path.join(root, "ILSVRC2012_img_val.tar"), "w") as tar:
        for k, stem in enumerate(VAL):
            _add(tar, f"{stem}.JPEG", _jpeg(50 + k))
    with tarfile.open(
        os.path.join(root, "ILSVRC2012_bbox_val_v3.tgz"), "w:gz"
    ) as tar:
        for stem, (wnid, boxes) in VAL.items():
            _add(tar, f"val/{stem}.xml", _xml(stem, wnid, boxes))


if __name__ == "__main__":
    shutil.rmtree(HERE, ignore_errors=True)
    kaggle(os.path.join(HERE, "kaggle"))
    archives(os.path.join(HERE, "archives"))
