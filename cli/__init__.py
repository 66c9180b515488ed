"""The ``autopilot`` command and the operator controls it runs: ``main`` (the argument parser
and the commands), ``controls`` (approve, reject, pause, resume, status, history),
``invoke`` (one handler on one event, and where the controls act), ``redrive`` (replay the
dead-letter queues). It drives the functions' own flows and the sandbox; neither imports it.
"""
