"""Benchmarks of ecs-autopilot: ``python -m bench.run`` writes bench/results.md and results.json.

Benchmarks are not tests: nothing here asserts a time. ``tests/bench`` only checks that a
tiny run works and writes well-formed output.
"""
