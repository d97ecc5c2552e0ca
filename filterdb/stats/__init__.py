"""Aggregate statistics over the filter database, computed out of core on a Dask cluster.

Public API (imported from the modules, so that ``rules/statistics.smk`` can import the light
``grouping`` module at DAG-parse time without loading Dask):

* ``options.StatsOptions`` - the ``statistics`` config section, validated;
* ``runner.run_statistics(models_path, layers_path, options, client)`` - three passes over the
  per-model filter files (see ``passes``), returning every result in memory (O(layers + groups));
* ``outputs.write_outputs(result, outputs.OutputPaths)`` - the contract's ``results/stats/`` files.

Results are bit-identical for any number of workers and any partition size.
"""
