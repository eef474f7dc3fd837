"""The mockws benchmark suite: mockws against its peers, on loopback.

Run ``python -m benchmarks.run --help``; docs/benchmarks.md explains what
each scenario measures.
"""
