"""Entrypoint of every crosstrain TrainJob pod: fetch the staged inputs, train, return the model.

    python -m crosstrain.kube.node --stage URI --task iris --framework pytorch -- \
        torchrun --no-python crosstrain train --task iris --framework pytorch

The pod's working directory becomes a small crosstrain project (params.yaml, data/prepared/<task>,
the validation record; crosstrain.kube.staging), the command after `--` runs in it, and worker 0
(JOB_COMPLETION_INDEX 0, the first pod of the Indexed Job) uploads models/<task>/<framework>.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from crosstrain.kube import staging


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Options before `--`, the training command after it."""
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(
        prog="python -m crosstrain.kube.node", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--stage", required=True, help="Staging URI of this TrainJob (crosstrain.kube.staging)."
    )
    parser.add_argument("--task", required=True, help="The task being trained.")
    parser.add_argument("--framework", required=True, help="tensorflow or pytorch.")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="Writable directory (default: a temp dir)."
    )
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    if not command:
        parser.error("no training command after `--`")
    return args, command


def is_first_worker(env: dict | os._Environ = os.environ) -> bool:
    """Worker 0 of the JobSet: the pod that saves the model (ranks of other pods only train)."""
    return env.get("JOB_COMPLETION_INDEX", "0") == "0"


def main(argv: list[str] | None = None) -> int:
    """Stage in, run the command, stage the model out from worker 0; the command's exit status."""
    args, command = parse(list(sys.argv[1:] if argv is None else argv))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="crosstrain-"))
    workdir.mkdir(parents=True, exist_ok=True)
    layout = staging.get_inputs(args.stage, workdir, args.task)
    print(f"crosstrain node: inputs staged in {workdir}; running {' '.join(command)}", flush=True)
    status = subprocess.run(command, cwd=workdir, check=False).returncode
    if status == 0 and is_first_worker():
        model = layout.model(args.task, args.framework)
        if not model.is_dir():
            print(f"crosstrain node: worker 0 finished without writing {model}", file=sys.stderr)
            return 1
        staging.put_model(args.stage, model)
    return status


if __name__ == "__main__":
    sys.exit(main())
