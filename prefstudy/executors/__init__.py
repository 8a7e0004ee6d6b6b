"""Scale-out: `prefstudy study run --executor local|ray|slurm`.

The driver (:mod:`.driver`) plans the study's due runs, reads what each needs from the study
database, and hands :class:`~.tasks.RunTask` objects to an executor (:mod:`.executors`): a pool
of local processes, Ray tasks, or Slurm jobs through submitit. Workers (:mod:`.worker`) never open
the database: each makes its run in a run directory and returns it; the driver lands it through
the one recording path (:func:`prefstudy.runs.importing.land_runs`), so the study's DuckDB file has
one writer.
"""
