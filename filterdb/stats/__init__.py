"""Stage 4, statistics: aggregate statistics of the filter database, out of core on Dask.

Public API (imported from the modules, so that the rules can import the light ``grouping`` and
``files`` modules at DAG-parse time without loading Dask):

* ``stage.compute_statistics(db_dir, stats_dir, statistics, dask, threads, mem_mb)`` - the job;
* ``options.StatsOptions`` - the ``statistics`` config section, validated;
* ``cluster.dask_client(dask, n_workers, memory_mb)`` - where the graphs run;
* ``runner.run_statistics(db_dir, options, client)`` - three passes over the per-model filter
  files (see ``passes``), returning every result in memory (O(layers + groups));
* ``outputs.write_outputs(result, stats_dir)`` - the ``results/stats/`` files (``files``);
* ``resources`` - the job's memory model.

The maths are pure functions of numpy arrays (``moments``, ``pca``, ``scaling``, ``binning``,
``degeneration``, ``density``, ``shift``, ``grouping``, ``summaries``), testable on their own;
the per-filter loops of the passes are compiled (``kernels``, numba) and tested against them.
Results are bit-identical for any number of workers and any partition size.
"""
