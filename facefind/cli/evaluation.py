"""`facefind eval`: the accuracy check on labelled photos, in a scratch database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facefind.runtime.settings import Settings


async def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facefind.evaluation.report import print_summary
    from facefind.evaluation.run import NothingToEvaluate, evaluate

    if not args.directory.is_dir():
        print(f"error: not a folder: {args.directory}", file=sys.stderr)
        return 2
    with tqdm(unit="photo", disable=args.quiet, file=sys.stderr) as bar:

        def on_total(total: int) -> None:
            bar.total = total
            bar.refresh()

        try:
            report = await evaluate(
                settings,
                args.directory,
                references=args.refs,
                out=args.out,
                calibrate=args.calibrate,
                progress=bar.update,
                on_total=on_total,
            )
        except NothingToEvaluate as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print_summary(report)
    print(f"report: {args.out / 'report.json'}; plots: " + ", ".join(report["plots"]))
    calibration = report.get("calibration")
    if calibration and calibration.get("path"):
        print(f"calibration written to {calibration['path']}; it applies at the next start")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="accuracy check on labelled photos, in a scratch database",
        description="Enroll the first K photos of each person with more than K photos into a "
        "scratch database, identify the rest and the photos of people with K or fewer (as "
        "people not enrolled), and report found, strong and false-candidate rates at the bands "
        "in force and over a threshold sweep. The gallery in use is not touched.",
    )
    p.add_argument("directory", type=Path, help="folder with one subfolder of photos per person")
    p.add_argument("--refs", type=int, default=1, help="references enrolled per person (default 1)")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("facefind-eval"),
        help="folder for report.json and the plots (default ./facefind-eval)",
    )
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="also write a calibration for the model pack in use from these photos "
        "(FACEFIND_DATA_DIR/calibrations/<pack>.json; it wins over the shipped one)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_eval)
