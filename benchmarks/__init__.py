"""Benchmarks: ``make bench`` (``python -m benchmarks``). Every figure is printed next to a
baseline measured in the same run, with the ratio; nothing here asserts a time."""
