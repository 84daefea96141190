"""Entrypoint of crosstrain's TensorFlow TrainJob pods: set TF_CONFIG, then exec the training command.

    python -m crosstrain.kube.tf_entrypoint -- crosstrain train --task images --framework tensorflow

The ClusterTrainingRuntime in k8s/trainer/ runs this; TF_CONFIG comes from the JobSet environment
(crosstrain.kube.tf_config). A TF_CONFIG already set is kept.
"""

from __future__ import annotations

import os
import sys

from crosstrain.kube import tf_config


def main(argv: list[str] | None = None) -> int:
    """Set TF_CONFIG and replace this process with the command after `--`; 2 when none is given."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[args.index("--") + 1 :] if "--" in args else args
    if not command:
        print("usage: python -m crosstrain.kube.tf_entrypoint -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    if not os.environ.get("TF_CONFIG"):
        os.environ["TF_CONFIG"] = tf_config.dumps(os.environ)
    print(f"TF_CONFIG={os.environ['TF_CONFIG']}", file=sys.stderr, flush=True)
    os.execvp(command[0], command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
