"""`python -m has_tf.pseudo_labels`: a split's pseudo-labels from a run
(the app is `__main__`; the file format `has_tf.metrics.
pseudo_label_files`; what each task draws `has_tf.tasks.
image_localization.pseudo_labels` and `has_tf.tasks.action_localization.
pseudo_labels`). Importing this package loads nothing."""
