"""``make bench`` (``python -m bench``): the pipeline's figures, medians of repeated runs, written to
docs/benchmarks.md with the machine they ran on and the command behind each figure."""
