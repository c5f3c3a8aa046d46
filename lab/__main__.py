"""python -m lab up [--fresh] | down | status | scale {up,down,run,status} (benchmark scale objects, lab/scale.py)
| fault {inject,undo,list} [names] (the faults the incident runbooks repair, lab/faults.py)"""
from __future__ import annotations

import argparse
import sys

from . import api
from .util import LabError


def main() -> int:
    if sys.argv[1:2] == ["scale"]:
        from . import scale  # pylint: disable=import-outside-toplevel
        return scale.cli(sys.argv[2:])
    parser = argparse.ArgumentParser(prog="python -m lab", description="the kubeops.runbook lab cluster")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="bring the lab up (idempotent)")
    p_up.add_argument("--fresh", action="store_true", help="tear down and rebuild even when it is healthy")
    sub.add_parser("down", help="remove nodes, namespaces, bridge, mounts (keeps caches)")
    sub.add_parser("status", help="print what runs and whether it is healthy")
    sub.add_parser("scale", help="benchmark scale objects: 2,000 nodes, 10,000 pods (python -m lab scale -h)")
    p_fault = sub.add_parser("fault", help="inject or undo the faults the incident runbooks repair")
    p_fault.add_argument("action", choices=["inject", "undo", "list"])
    p_fault.add_argument("names", nargs="*", help="faults (default: all); `list` names them")
    args = parser.parse_args()
    try:
        if args.cmd == "up":
            api.up(fresh=args.fresh)
        elif args.cmd == "down":
            api.down()
        elif args.cmd == "fault":
            from . import faults  # pylint: disable=import-outside-toplevel
            return faults.run(args.action, args.names)
        else:
            return api.status()
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
