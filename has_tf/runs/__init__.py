"""A run's files, for every app that reads or writes a run directory
(train, evaluate, search, seeds, the evaluators): plain Python, no
TensorFlow.

- `files`: atomic writes (a file under a temporary name, renamed over the
  old; a directory built beside its place and swapped in whole).
- `run_dir`: one process per run directory (`RunLock`), leftovers of a
  killed process, and the options check of a restart (`run_config.json`).
"""
