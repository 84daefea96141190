"""What the Kubeflow components and the `crosstrain pipeline` commands share (framework-neutral).

`steps` holds one function per component: each takes the params YAML text and artifact paths and
calls the same library function as the matching `crosstrain <step>` command.
"""
