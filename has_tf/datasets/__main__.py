"""Prepares a dataset: `python -m has_tf.datasets NAME [--data_dir DIR]`.

The same as `tfds build NAME --imports has_tf.datasets`, without the TFDS
command line's extra requirements (its 4.9 release imports apache-beam
and mlcroissant).
Prints where the dataset is and its splits.
"""

from __future__ import annotations

import argparse
import sys

import has_tf.datasets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m has_tf.datasets", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "name",
        help="e.g. synthetic_parts, synthetic_parts/tiny, ilsvrc_loc, cub",
    )
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--manual_dir", default=None)
    args = parser.parse_args(argv)
    try:  # Every dataset has_tf knows has a train split.
        _, builder = has_tf.datasets.load(
            args.name, "train", args.data_dir, args.manual_dir
        )
    except ValueError as error:
        parser.error(str(error))
    splits = {k: v.num_examples for k, v in builder.info.splits.items()}
    print(f"{builder.info.full_name} in {builder.data_dir}: {splits}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
