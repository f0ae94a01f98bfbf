"""Two-stage localization's second stage: PSOL's class-agnostic box
regressor (`has_tf.models.box_regressor`) trained on a pseudo-label file
(`--pseudo_labels`, written by `python -m has_tf.pseudo_labels`).

Training: the split in its own order (the file's keys: image ids, or
positions), `input_pipeline.box_regression.train_pipeline` (PSOL's crop
around the box, flip; uint8 out) into the regressor on a model of the
table (uint8 pixels, normalised in its first op), PSOL's loss. Evaluation:
`input_pipeline.images.eval_pipeline` (PSOL: `--eval_crop=center_crop`,
`--resize_size=256`) -> one box per image -> the paper protocol's
figures (`metrics.boxes.PaperLocalization`): GT-known Loc, and Top-1 /
Top-5 Loc and Clas with the classes of `--classes_from` (the regressor
has none). Modules: `scoring` (the step and the scorer), `task`
(`BoxRegression`).
"""

from has_tf.tasks.box_regression.task import BoxRegression

__all__ = ["BoxRegression"]
