"""Distributed training on Kubernetes: Kubeflow Trainer v2 TrainJobs (see crosstrain.kube.trainjob).

Only the pipeline's train step (and the pods it starts) imports this package; `dvc repro` never does.
"""
