"""Prepares a dataset: `python -m has_tf.datasets NAME [--data_dir=DIR]
[--manual_dir=DIR] [--allow_pickle]` (`--allow_pickle`: W-TALC's pickled
bundles, files you trust).

The same as `tfds build NAME --imports has_tf.datasets`, without the TFDS
command line's extra requirements (its 4.9 release imports apache-beam
and mlcroissant). Prints where the dataset is and its splits.
"""

from __future__ import annotations

from absl import flags

import has_tf.datasets
from has_tf import _cli


def define_flags() -> None:
    """The program's flags (defined when it runs, not on import)."""
    flags.DEFINE_string("data_dir", None, "TFDS data directory.")
    flags.DEFINE_string(
        "manual_dir", None, "Manual download directory (ILSVRC, THUMOS14)."
    )
    flags.DEFINE_bool(
        "allow_pickle",
        False,
        "Read pickled files (W-TALC's feature bundles); unpickling a "
        "downloaded file can run code: only for files you trust.",
    )


def main(argv) -> int:
    if len(argv) != 2:
        raise _cli.UsageError(
            "expected one dataset name, e.g. synthetic_parts, "
            "synthetic_parts/tiny, ilsvrc_loc, cub. Received: "
            f"{' '.join(argv[1:]) or 'none'}"
        )
    try:  # Whatever splits it has (some configs have "test" only).
        builder = has_tf.datasets.prepare(
            argv[1],
            flags.FLAGS.data_dir,
            flags.FLAGS.manual_dir,
            flags.FLAGS.allow_pickle,
        )
    except ValueError as error:
        raise _cli.UsageError(str(error)) from None
    splits = {k: v.num_examples for k, v in builder.info.splits.items()}
    print(f"{builder.info.full_name} in {builder.data_dir}: {splits}")
    return 0


if __name__ == "__main__":
    define_flags()
    _cli.run(main)
