"""Benchmarks and the fault soak of durable-runs.

`python -m bench.run --size N` compares the seed's naive polling loop, the SDK's `create_and_poll`,
durable-runs polling and durable-runs webhooks on the same workload against the emulator;
`python -m bench.soak --runs N` injects faults and kills the worker, then checks nothing was lost
or done twice.
"""
