"""Data-parallel training on one machine, the framework-neutral half.

    crosstrain train --task images --framework pytorch --workers 2      # torchrun, DDP over gloo
    crosstrain train --task images --framework tensorflow --workers 2   # 2 processes, MWMS over RING

`env` reads where this process stands (rank, world size) once; `shard` cuts each global batch into
the per-rank slices; `launch` starts the N local workers and watches them; `scaling` turns a run's
timings into throughput and scaling-efficiency metrics. The framework-specific halves (the process
group, the strategy) live in `crosstrain.training.torch` and `crosstrain.training.tf`.
"""
