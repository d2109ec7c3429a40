"""The live scorer, out of the gateway's serving process.

``engine``: event rows -> features -> online state -> changed verdicts (transport-free).
``pipe``: the embedded scorer, a child of ``hydrawatch serve`` fed through its stdin.
``redis_worker``: one leader among replicas consumes the shared Redis event stream.
``cli``: ``hydrawatch score``.
"""
