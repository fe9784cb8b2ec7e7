"""The ``birdview`` command: the GUI, or a headless subcommand over the same data layer."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from birdview.audio.recording import AudioFileError, find_audio_files, probe
from birdview.spectrogram.ticks import format_time

SUBCOMMANDS = ("info",)


def _gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="birdview",
        description="Review long field recordings for bird calls. Headless subcommands: "
        + ", ".join(SUBCOMMANDS)
        + " (birdview SUBCOMMAND --help).",
    )
    parser.add_argument("paths", nargs="*", help="recordings or folders of recordings to open")
    parser.add_argument("--screenshot", type=Path, metavar="OUT.png", help="render the window to a PNG and exit")
    parser.add_argument("--start", type=float, help="with --screenshot: view start in seconds")
    parser.add_argument("--span", type=float, help="with --screenshot: seconds shown")
    parser.add_argument(
        "--tile-cache", type=Path, metavar="DIR", help="also keep spectrogram tiles on disk here (faster reopening)"
    )
    return parser


def _info(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="birdview info", description="Print what birdview reads of recordings.")
    parser.add_argument("paths", nargs="+", help="recordings or folders")
    args = parser.parse_args(argv)
    failures = 0
    print("path\tduration\tsample_rate\tchannels\tstart_time\tstatus")
    for path in find_audio_files(args.paths):
        try:
            info = probe(path)
        except AudioFileError as exc:
            failures += 1
            print(f"{path}\t\t\t\t\terror: {exc.problem}")
            print(f"birdview: {exc}", file=sys.stderr)
            continue
        start = info.start_time.isoformat(sep=" ") if info.start_time else ""
        status = f"warning: {info.warning}" if info.warning else "ok"
        print(f"{path}\t{format_time(info.duration_s, 0.001)}\t{info.sample_rate}\t{info.channels}\t{start}\t{status}")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "info":
        return _info(argv[1:])
    args = _gui_parser().parse_args(argv)
    if args.screenshot is not None:
        from birdview.gui.app import screenshot

        return screenshot(args.paths, args.screenshot, args.start, args.span, tile_cache=args.tile_cache)
    from birdview.gui.app import run_gui

    return run_gui(args.paths, tile_cache=args.tile_cache)


if __name__ == "__main__":
    sys.exit(main())
