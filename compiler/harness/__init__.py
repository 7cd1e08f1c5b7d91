"""The numerical equivalence harness: compiled functions must agree across frameworks.

    worker.py     the standalone worker process (one per target), its wire format
    jitcalls.py   the worker's jax.jit / tf.function path, per input signature
    client.py     spawning, timeouts and restarts of a worker
    session.py    one worker per target, target probing and setup
    analysis.py   value domains and differentiability of parameters, read off the IR
    strategies.py hypothesis strategies from declared parameter types
    cases.py      chapters -> test cases (gradient wrappers, per-target modules)
    chapter_cache.py  compiled chapters kept between runs, by content
    compare.py    type checks and the tolerance table
    batches.py    the drawn inputs of a function in one request per target, targets in parallel
    runner.py     the run: draw, call, judge, shrink
    results.py    cells, rows and the matrix of a run
    replay.py     failing inputs saved as .npz
    report.py     progress bar and the matrix (text, Markdown, JSON)
    cli.py        `d2lc test`
    (d2lc/build/envs.py: the python of each environment)
    models.py     model equivalence (canonical parameters in every framework)
"""
