"""Benchmarks, each with its baseline measured in the same run. `./dev bench [name]`."""
