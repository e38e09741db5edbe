"""Activities: all I/O of a run. Each takes one input model and is safe to run twice."""
