"""The hardware catalog: the performance model, its calibration against measured data, the
seeds' claims checked, and the bundled example case."""
