"""Viewer speed and memory on long recordings, against the naive way in the same run.

    python benchmarks/viewer_benchmark.py [--hours 1 24] [--data benchmarks/data]
    python benchmarks/viewer_benchmark.py --overview --hours 2 --noise 0.1 [--background]
    python benchmarks/viewer_benchmark.py --jobs --hours 2 [--noise 0.1] [--format wav] [--repeats 3]

For each length it generates (once) a 32 kHz mono FLAC of quiet noise with a chirp every
37 s, then in a fresh process per measurement (so peak RSS is that measurement's own):
  birdview  open the file in the real main window (offscreen), time to the first complete
            spectrogram paint, scroll/zoom frame times on the GUI thread (p50/p95), time until
            the whole-file overview is complete, peak RSS (and the highest RSS of each phase:
            opening, the --steps steps, the rest of the overview, a second open; the tile caches'
            size at the end), CPU time;
  naive     librosa.load of the whole file plus one STFT (the same FFT size and hop), time and
            peak RSS. Only run where it fits in memory; otherwise its need is computed and shown.
Prints a table and the ratios. Each measurement keeps its caches in a fresh folder
($BIRDVIEW_CACHE_DIR), and ends by opening the file again in a new window: the overview then
comes from the cache ("overview again").

--overview measures only the overview: built as now, built as before (12 runs of 2 frames a
column instead of 4 runs of 8: three times the seeks), and read back on a second open; with
--background a process keeps one core busy meanwhile (a scoring job). --noise 0.1 makes the
recording noise-like (FLAC stores it near full size; the default, quiet noise, compresses well).

--jobs measures the scroll/zoom frame times with nothing else running, with a two-thread job
(matrix products, as training or scoring keeps both cores busy) at normal priority, and with
the same job at the priority the app gives its jobs, in turns; --format wav uses a 16-bit WAV.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

SAMPLE_RATE = 32000
N_FFT, HOP = 1024, 256
CHIRP_EVERY_S = 37


def generate(path: Path, hours: float, noise: float = 0.002) -> Path:
    """Noise of standard deviation ``noise`` (0.002: quiet, compresses well; 0.1: noise-like,
    FLAC keeps it near full size and every seek decodes large frames) with a chirp every 37 s."""
    import soundfile as sf

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    block_s = 60
    t = np.arange(block_s * SAMPLE_RATE) / SAMPLE_RATE
    temporary = path.with_name(path.stem + ".partial" + path.suffix)  # FLAC, or 16-bit WAV as recorders write
    with sf.SoundFile(temporary, "w", SAMPLE_RATE, 1, subtype="PCM_16") as out:
        for minute in range(int(hours * 60)):
            block = rng.standard_normal(len(t)) * noise
            for start in np.arange(-(minute * block_s) % CHIRP_EVERY_S, block_s, CHIRP_EVERY_S):
                on = (t >= start) & (t < start + 0.5)
                block[on] += 0.2 * np.sin(2 * np.pi * (3000 + 4000 * (t[on] - start)) * (t[on] - start))
            out.write(block.astype(np.float32))
    temporary.rename(path)
    return path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssSampler(threading.Thread):
    """Samples this process's resident memory every 20 ms and keeps the highest value of each
    phase (opening, scrolling, the overview...), so a peak can be put down to what ran then."""

    def __init__(self) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.phase = "start"
        self.peaks: dict[str, float] = {}
        self._halt = threading.Event()
        self._page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20

    def mark(self, phase: str) -> None:
        self._sample()
        self.phase = phase
        self._sample()

    def _sample(self) -> None:
        try:
            with open("/proc/self/statm") as statm:
                mb = int(statm.read().split()[1]) * self._page_mb
        except OSError:  # not Linux: only the overall peak is known
            return
        self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), mb)

    def run(self) -> None:
        while not self._halt.wait(0.02):
            self._sample()

    def stop(self) -> dict[str, float]:
        self._halt.set()
        self._sample()
        return {phase: round(mb) for phase, mb in self.peaks.items()}


def measure_birdview(path: str, overview_only: bool = False, scheme: str | None = None) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings

    from birdview.gui.app import make_application
    from birdview.gui.main_window import MainWindow
    from birdview.spectrogram import overview as overview_module

    if scheme is not None:  # the overview's runs a column x frames a run, e.g. "12x2" (before)
        groups, frames_per_group = (int(v) for v in scheme.split("x"))
        overview_module.OVERVIEW_GROUPS, overview_module.OVERVIEW_GROUP_FRAMES = groups, frames_per_group

    sampler = RssSampler()
    sampler.start()
    app = make_application()
    settings = QSettings(str(Path(path).with_suffix(".bench.ini")), QSettings.Format.IniFormat)
    settings.clear()
    window = MainWindow(settings=settings)
    window.resize(1400, 820)
    window.show()
    app.processEvents()

    def pump_until(condition, timeout_s: float) -> float:
        start = time.perf_counter()
        while not condition() and time.perf_counter() - start < timeout_s:
            app.processEvents()
            time.sleep(0.001)
        return time.perf_counter() - start

    sampler.mark("open to first paint")
    opened = time.perf_counter()
    window.open_paths([path])
    pump_until(lambda: window.current is not None and window.view.visible_tiles_complete(), 60)
    first_paint = time.perf_counter() - opened
    duration = window.current.info.duration_s

    sampler.mark("scroll/zoom/jump steps")
    rng = np.random.default_rng(0)
    frames, settle = [], []
    view = window.view
    for step in range(0 if overview_only else int(os.environ.get("BENCH_STEPS", 120))):
        t0, t1 = view.view_range()
        span = t1 - t0
        kind = step % 6
        start = time.perf_counter()
        if kind in (0, 1, 2):
            view.pan(0.1)  # scrolling: most frames
        elif kind == 3:
            view.zoom(0.5)
        elif kind == 4:
            view.zoom(4.0 if span < duration / 4 else 0.05)
        else:
            view.set_view(float(rng.uniform(0, max(duration - span, 0))), span)  # a jump
        app.processEvents()
        view.viewport().repaint()
        frames.append((time.perf_counter() - start) * 1000)
        settle.append(pump_until(view.visible_tiles_complete, 30) * 1000)
    sampler.mark("rest of the overview")
    pump_until(lambda: window.overview.finished, 600)
    overview = window.overview.builder.elapsed_s
    tile_cache_mb = (window.tiles.memory.nbytes + window.waveform.tiles.memory.nbytes) / 2**20
    window.shutdown()
    sampler.mark("second open")

    # The same file opened again (a new window, as after a restart): the overview from the cache.
    again = MainWindow(settings=settings)
    again.resize(1400, 820)
    again.show()
    opened = time.perf_counter()
    again.open_paths([path])
    pump_until(lambda: again.overview.builder is not None and again.overview.finished, 600)
    overview_again = time.perf_counter() - opened
    from_cache = again.overview.builder.from_cache
    again.shutdown()
    result = {
        "first_paint_s": first_paint,
        "overview_complete_s": overview,
        "overview_again_s": overview_again,
        "overview_again_from_cache": from_cache,
        "peak_rss_mb": peak_rss_mb(),
        "rss_peaks_mb": sampler.stop(),
        "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
        "tile_caches_mb": round(tile_cache_mb),
    }
    if frames:
        result |= {
            "frame_p50_ms": float(np.percentile(frames, 50)),
            "frame_p95_ms": float(np.percentile(frames, 95)),
            "frame_max_ms": float(np.max(frames)),
            "tiles_settle_p50_ms": float(np.percentile(settle, 50)),
            "tiles_settle_p95_ms": float(np.percentile(settle, 95)),
        }
    return result


def measure_naive(path: str) -> dict:
    import librosa

    start = time.perf_counter()
    audio, _ = librosa.load(path, sr=None, mono=True)
    spectrogram = np.abs(librosa.stft(audio, n_fft=N_FFT, hop_length=HOP)) ** 2
    elapsed = time.perf_counter() - start
    del spectrogram
    return {"first_paint_s": elapsed, "peak_rss_mb": peak_rss_mb()}


def naive_memory_gb(hours: float) -> float:
    samples = hours * 3600 * SAMPLE_RATE
    frames = samples / HOP
    # float32 samples + complex64 STFT + float32 power
    return (samples * 4 + frames * (N_FFT // 2 + 1) * (8 + 4)) / 1e9


def run_child(kind: str, path: Path, scheme: str | None = None) -> dict:
    environment = dict(os.environ)
    if scheme is not None:
        environment["BENCH_OVERVIEW_SCHEME"] = scheme
    with tempfile.TemporaryDirectory(prefix="birdview-bench-cache-") as cache:
        environment["BIRDVIEW_CACHE_DIR"] = cache  # nothing cached from an earlier run
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind, str(path)],
            capture_output=True,
            text=True,
            check=False,
            env=environment,
        )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, nargs="+", default=[1, 24])
    parser.add_argument("--data", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--naive-limit-gb", type=float, default=12.0, help="skip the naive run above this need")
    parser.add_argument("--noise", type=float, default=0.002, help="noise level (0.1: noise-like)")
    parser.add_argument("--format", choices=("flac", "wav"), default="flac", help="the recording's format (16-bit)")
    parser.add_argument("--overview", action="store_true", help="measure the overview only, now and before")
    parser.add_argument("--background", action="store_true", help="keep one core busy meanwhile")
    parser.add_argument("--repeats", type=int, default=2, help="--overview: turns of each")
    parser.add_argument(
        "--steps", type=int, default=120, help="scroll/zoom/jump steps (more: a longer session, fuller tile caches)"
    )
    parser.add_argument(
        "--jobs",
        action="store_true",
        help="frame times with a two-thread job beside the window: none, at normal priority, at a job's priority",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.child:
        os.environ["BENCH_STEPS"] = str(args.steps)  # the children's
    if args.child:
        kind, path = args.child
        scheme = os.environ.get("BENCH_OVERVIEW_SCHEME")
        if kind == "naive":
            result = measure_naive(path)
        else:
            result = measure_birdview(path, overview_only=kind == "overview", scheme=scheme)
        print(json.dumps(result))
        return
    if args.overview:
        overview_main(args)
        return
    if args.jobs:
        jobs_main(args)
        return

    total_memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    print(f"machine: {os.cpu_count()} cores, {total_memory_gb:.0f} GB; FFT {N_FFT}, hop {HOP}")
    rows = []
    for hours in args.hours:
        started = time.perf_counter()
        path = generate(data_file(args, hours), hours, args.noise)
        print(f"\n{path.name}: {path.stat().st_size / 1e9:.2f} GB (ready in {time.perf_counter() - started:.0f} s)")
        ours = run_child("birdview", path)
        print("  birdview:", json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in ours.items()}))
        need = naive_memory_gb(hours)
        if need <= args.naive_limit_gb:
            naive = run_child("naive", path)
        else:
            naive = {"skipped": f"needs ~{need:.0f} GB of memory (machine: {total_memory_gb:.0f} GB)"}
        print("  naive:   ", json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in naive.items()}))
        rows.append((hours, ours, naive, need))

    print(
        "\n| file | first paint | naive load+STFT | speed-up | frame p50 / p95 | overview done | peak RSS | naive RSS |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for hours, ours, naive, need in rows:
        if "error" in ours:
            print(f"| {hours:g} h | error: {ours['error']} |")
            continue
        if "first_paint_s" in naive:
            naive_time = f"{naive['first_paint_s']:.1f} s"
            ratio = f"{naive['first_paint_s'] / ours['first_paint_s']:.0f}×"
            naive_rss = f"{naive['peak_rss_mb']:.0f} MB"
        else:
            naive_time, ratio, naive_rss = "does not fit", "—", f"~{need:.0f} GB needed"
        print(
            f"| {hours:g} h | {ours['first_paint_s']:.2f} s | {naive_time} | {ratio} | "
            f"{ours['frame_p50_ms']:.1f} / {ours['frame_p95_ms']:.1f} ms | {ours['overview_complete_s']:.1f} s | "
            f"{ours['peak_rss_mb']:.0f} MB | {naive_rss} |"
        )


def data_file(args: argparse.Namespace, hours: float) -> Path:
    suffix = "" if args.noise == 0.002 else "_noise" if args.noise == 0.1 else f"_noise{args.noise:g}"
    return args.data / f"bench_{hours:g}h_32k{suffix}.{args.format}"


def busy_loop() -> subprocess.Popen:
    """A process that keeps one core busy, as a scoring job would."""
    code = "import numpy as np\na = np.random.rand(400, 400)\nwhile True:\n    a = np.tanh(a @ a)"
    return subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ, OMP_NUM_THREADS="1"))


def job_process(lowered: bool) -> subprocess.Popen:
    """Two threads of matrix products, as a training or scoring job keeps both cores busy; with
    ``lowered``, at the priority the app gives its jobs (birdview.system.priority)."""
    from birdview.system.priority import lower_process

    code = "import numpy as np\na = np.random.rand(600, 600)\nwhile True:\n    a = np.tanh(a @ a)"
    process = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ, OMP_NUM_THREADS="2"))
    if lowered:
        lower_process(process.pid)
    return process


def jobs_main(args: argparse.Namespace) -> None:
    """Scroll/zoom frame times on the GUI thread with no job, a job at normal priority (as
    before) and a job at the app's job priority, in turns, each in a fresh window process."""
    settings = {"no job": None, "job, normal priority": False, "job, lowered (the app's)": True}
    for hours in args.hours:
        path = generate(data_file(args, hours), hours, args.noise)
        print(f"\n{path.name}: {path.stat().st_size / 1e9:.2f} GB; load average {os.getloadavg()[0]:.1f}")
        results: dict[str, list[dict]] = {name: [] for name in settings}
        for _ in range(args.repeats):
            for name, lowered in settings.items():
                job = None if lowered is None else job_process(lowered)
                try:
                    time.sleep(0.5 if job else 0)
                    results[name].append(run_child("birdview", path))
                finally:
                    if job is not None:
                        job.kill()
                        job.wait()
        print("| job beside the window | frame p50 | frame p95 | first paint | overview done |\n|---|---|---|---|---|")
        for name, runs in results.items():
            for run in runs:
                print(
                    f"| {name} | {run['frame_p50_ms']:.1f} ms | {run['frame_p95_ms']:.1f} ms | "
                    f"{run['first_paint_s']:.2f} s | {run['overview_complete_s']:.1f} s |"
                )
        p95 = {name: float(np.median([r["frame_p95_ms"] for r in runs])) for name, runs in results.items()}
        normal, lowered = p95["job, normal priority"], p95["job, lowered (the app's)"]
        medians = ", ".join(f"{k} {v:.1f} ms" for k, v in p95.items())
        print(f"median frame p95: {medians}; normal / lowered {normal / lowered:.2f}x")


def overview_main(args: argparse.Namespace) -> None:
    """The overview alone: now (4 runs of 8 frames a column) against before (12 runs of 2), in
    turns, and the second open (from the cache)."""
    background = busy_loop() if args.background else None
    try:
        for hours in args.hours:
            path = generate(data_file(args, hours), hours, args.noise)
            print(f"\n{path.name}: {path.stat().st_size / 1e9:.2f} GB" + (", one core kept busy" if background else ""))
            rows: dict[str, list[dict]] = {"now 4x8": [], "before 12x2": []}
            for _ in range(args.repeats):
                rows["now 4x8"].append(run_child("overview", path))
                rows["before 12x2"].append(run_child("overview", path, scheme="12x2"))
            print("| overview | built in | second open (cache) | from cache |\n|---|---|---|---|")
            for name, results in rows.items():
                for result in results:
                    if "error" in result:
                        print(f"| {name} | error: {result['error']} | | |")
                        continue
                    print(
                        f"| {name} | {result['overview_complete_s']:.1f} s | {result['overview_again_s']:.2f} s | "
                        f"{result['overview_again_from_cache']} |"
                    )
            built = {
                name: [r["overview_complete_s"] for r in results if "error" not in r] for name, results in rows.items()
            }
            if all(built.values()):
                ratio = np.median(built["before 12x2"]) / np.median(built["now 4x8"])
                print(f"before / now (medians): {ratio:.2f}x")
    finally:
        if background is not None:
            background.kill()


if __name__ == "__main__":
    main()
