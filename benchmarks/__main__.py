"""python -m benchmarks: the scale benchmark (benchmarks/run.py)."""

from benchmarks.run import main

main()
