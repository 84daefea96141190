"""Kubeflow pipelines built from components/; `crosstrain pipeline compile|run|submit` drives them."""
