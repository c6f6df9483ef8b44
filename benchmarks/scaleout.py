"""Data-parallel runs under torchrun, as a user starts them (docs/DISTRIBUTED.md).

    # 20 consecutive 2-process runs (search + retraining) must all exit 0, with no abort
    python benchmarks/scaleout.py exit --runs 20 --out benchmarks/out/scaleout-exit

    # 1 process against 2, side by side (alternating, so both see the same machine load)
    python benchmarks/scaleout.py speedup --repeats 3 --out benchmarks/out/scaleout-speedup \\
        -- --data mnist1d --n-train 2000 --epochs 2 --batch-size 256

    # the work of each rank: wall and CPU seconds of search epochs, per rank
    python benchmarks/scaleout.py cost --repeats 3 --data mnist1d --n-train 2000

Every rank gets ``OMP_NUM_THREADS=1`` (``--threads``), and every address is 127.0.0.1:
the rendezvous (``--master-addr``) and gloo's own sockets (``GLOO_SOCKET_IFNAME=lo``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# What a dirty exit looks like in stderr (gloo's abort at exit, a C++ terminate, a crash).
ABORT_SIGNS = ("terminate called", "Aborted", "core dumped", "Segmentation fault",
               "ChildFailedError", "Traceback")
EXIT_RUN = ("search", "--data", "iris", "--epochs", "2", "--calibrate", "0", "--train-epochs", "1",
            "--device", "cpu", "--no-plots", "--quiet", "--json")


def free_port() -> int:
    """A port that is free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(threads: int = 1) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
            "GLOO_SOCKET_IFNAME": "lo"}


def torchrun(nproc: int) -> list[str]:
    """``torchrun`` for ``nproc`` processes on this machine alone, on a fresh free port."""
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
            "--nproc-per-node", str(nproc), "--master-addr", "127.0.0.1",
            "--master-port", str(free_port())]


def torchrun_command(nproc: int, mdlnas_args: Sequence[str]) -> list[str]:
    """``torchrun ... -m mdlnas ARGS``."""
    return [*torchrun(nproc), "-m", "mdlnas", *mdlnas_args]


def run(command: Sequence[str], threads: int = 1, timeout: float = 600) -> dict[str, Any]:
    start = time.perf_counter()
    done = subprocess.run(list(command), env=environment(threads), capture_output=True,
                          text=True, timeout=timeout)
    return {"command": shlex.join(command), "returncode": done.returncode,
            "seconds": round(time.perf_counter() - start, 2), "stdout": done.stdout,
            "stderr": done.stderr}


def clean_exit_runs(runs: int, out: Path, nproc: int = 2) -> list[dict[str, Any]]:
    """``runs`` consecutive torchrun jobs; each row says whether it exited 0 with no sign
    of an abort in its output."""
    rows = []
    for i in range(runs):
        result = run(torchrun_command(nproc, [*EXIT_RUN, "--out", str(out / f"run-{i:02d}")]))
        text = result["stdout"] + result["stderr"]
        signs = [sign for sign in ABORT_SIGNS if sign in text]
        rows.append({"run": i, "returncode": result["returncode"], "abort_signs": signs,
                     "clean": result["returncode"] == 0 and not signs,
                     "seconds": result["seconds"], "command": result["command"],
                     "stderr_tail": result["stderr"][-2000:] if signs else ""})
    return rows


def _exit(args: argparse.Namespace) -> int:
    rows = clean_exit_runs(args.runs, args.out, args.nproc)
    clean = sum(row["clean"] for row in rows)
    report = {"runs": len(rows), "clean": clean, "nproc": args.nproc, "rows": rows,
              "machine": platform.platform(), "cpus": os.cpu_count()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "exit.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"{clean}/{len(rows)} runs of {nproc_text(args.nproc)} exited 0 cleanly "
          f"(median {sorted(r['seconds'] for r in rows)[len(rows) // 2]} s); "
          f"{args.out / 'exit.json'}")
    return 0 if clean == len(rows) else 1


def nproc_text(nproc: int) -> str:
    return f"{nproc} process" + ("es" if nproc > 1 else "")


def _speedup(args: argparse.Namespace) -> int:
    """Alternate 1-process and N-process searches; compare the search's own seconds
    (summary.json: the epochs, without start-up) and the wall time of the command."""
    base = ["search", *args.search_args, "--device", "cpu", "--search-only", "--no-plots",
            "--quiet", "--json"]
    rows = []
    for repeat in range(args.repeats):
        for nproc, threads in ((1, args.threads), (args.nproc, args.threads)):
            out = args.out / f"n{nproc}-t{threads}-r{repeat}"
            if nproc == 1:
                command = [sys.executable, "-m", "mdlnas", *base, "--out", str(out)]
            else:
                command = torchrun_command(nproc, [*base, "--out", str(out)])
            result = run(command, threads=threads)
            if result["returncode"] != 0:
                print(result["stderr"][-3000:], file=sys.stderr)
                return 1
            summary = json.loads((out / "summary.json").read_text())
            rows.append({"nproc": nproc, "threads": threads, "repeat": repeat,
                         "search_seconds": summary["search_seconds"],
                         "wall_seconds": result["seconds"],
                         "epochs": summary["epochs_run"], "command": result["command"]})
            print(json.dumps(rows[-1]), flush=True)
    one = [r["search_seconds"] for r in rows if r["nproc"] == 1]
    many = [r["search_seconds"] for r in rows if r["nproc"] == args.nproc]
    report = {"rows": rows, "speedup_of_medians": _median(one) / _median(many),
              **_agreement(args.out, args.nproc, args.threads),
              "machine": platform.platform(), "cpus": os.cpu_count()}
    (args.out / "speedup.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"search seconds, median: 1 process {_median(one):.1f}, {nproc_text(args.nproc)} "
          f"{_median(many):.1f}; speed-up {report['speedup_of_medians']:.2f}x; same genotype: "
          f"{report['same_genotype']}, largest |Δγ| {report['max_gamma_difference']:.4f}")
    return 0


def _agreement(out: Path, nproc: int, threads: int) -> dict[str, Any]:
    """Whether the first 1-process and N-process runs found the same genotype, and the
    largest difference of their γ (BatchNorm's per-shard statistics make them differ)."""
    one, many = out / f"n1-t{threads}-r0", out / f"n{nproc}-t{threads}-r0"
    same = (one / "genotype.json").read_text() == (many / "genotype.json").read_text()
    g1 = json.loads((one / "summary.json").read_text())["gammas"]
    g2 = json.loads((many / "summary.json").read_text())["gammas"]
    gap = max(abs(a - b) for cell in g1 for r1, r2 in zip(g1[cell], g2[cell], strict=True)
              for a, b in zip(r1, r2, strict=True))
    return {"same_genotype": same, "max_gamma_difference": gap}


def _epoch_cost(args: argparse.Namespace) -> int:
    """Inside each rank (under torchrun, or alone): time search epochs in wall and CPU
    seconds; rank 0 prints every rank's times as one JSON line. CPU seconds measure a
    rank's own work even when other jobs share the cores."""
    from mdlnas import distributed
    from mdlnas.config import SearchConfig
    from mdlnas.data import DataConfig, load
    from mdlnas.search.darts import BilevelSearch
    from mdlnas.space.presets import make_space, space_for

    with distributed.session("cpu"):
        data = load(DataConfig(name=args.data, n_train=args.n_train))
        config = SearchConfig(batch_size=args.batch_size, xi=args.xi, device="cpu")
        state = BilevelSearch(data, make_space(space_for(data.modality)), config)
        distributed.barrier()  # the ranks finish loading at different times
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.epochs):
            state.run_epoch()
        mine = (time.perf_counter() - wall, time.process_time() - cpu)
        everyone: list[Any] = [mine]
        if distributed.world_size() > 1:
            import torch.distributed as dist

            everyone = [None] * distributed.world_size()
            dist.all_gather_object(everyone, mine)
        if distributed.is_main():
            print(json.dumps({"wall": [w for w, _ in everyone], "cpu": [c for _, c in everyone],
                              "alpha_sum": float(sum(a.detach().sum() for a in
                                                     state.model.arch_parameters()))}))
    return 0


def _cost(args: argparse.Namespace) -> int:
    """Alternate 1-process and N-process epoch timings (see :func:`_epoch_cost`)."""
    worker = [str(Path(__file__).resolve()), "epoch-cost", "--data", args.data,
              "--epochs", str(args.epochs), "--xi", str(args.xi)]
    worker += ["--n-train", str(args.n_train)] if args.n_train else []
    worker += ["--batch-size", str(args.batch_size)] if args.batch_size else []
    rows = []
    for repeat in range(args.repeats):
        for nproc in (1, args.nproc):
            command = [sys.executable, *worker] if nproc == 1 else [*torchrun(nproc), *worker]
            result = run(command, threads=args.threads)
            if result["returncode"] != 0:
                print(result["stderr"][-3000:], file=sys.stderr)
                return 1
            times = json.loads(result["stdout"].strip().splitlines()[-1])
            rows.append({"nproc": nproc, "repeat": repeat, **times,
                         "command": result["command"]})
            print(json.dumps(rows[-1]), flush=True)
    report: dict[str, Any] = {"rows": rows, "machine": platform.platform(),
                              "cpus": os.cpu_count(), "load": os.getloadavg()}
    for key in ("wall", "cpu"):
        one = _median([max(r[key]) for r in rows if r["nproc"] == 1])
        many = _median([max(r[key]) for r in rows if r["nproc"] == args.nproc])
        report[f"{key}_seconds"] = {"1": one, str(args.nproc): many, "ratio": one / many}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cost.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"per epoch, median over repeats of the slowest rank: wall {report['wall_seconds']}, "
          f"CPU {report['cpu_seconds']}; {args.out / 'cost.json'}")
    return 0


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    e = sub.add_parser("exit", help="consecutive torchrun jobs must all exit 0")
    e.add_argument("--runs", type=int, default=20)
    e.add_argument("--nproc", type=int, default=2)
    e.add_argument("--out", type=Path, default=Path("benchmarks/out/scaleout-exit"))
    s = sub.add_parser("speedup", help="1 process against N, alternating")
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--nproc", type=int, default=2)
    s.add_argument("--threads", type=int, default=1, help="OMP threads per process")
    s.add_argument("--out", type=Path, default=Path("benchmarks/out/scaleout-speedup"))
    s.add_argument("search_args", nargs=argparse.REMAINDER,
                   help="after --: the options of `mdlnas search`")
    for name, help_text in (("cost", "1 process against N: wall and CPU seconds per rank"),
                            ("epoch-cost", "(run by cost, inside each rank)")):
        c = sub.add_parser(name, help=help_text)
        c.add_argument("--data", default="mnist1d")
        c.add_argument("--n-train", type=int)
        c.add_argument("--batch-size", type=int)
        c.add_argument("--xi", type=float, default=0.0)
        c.add_argument("--epochs", type=int, default=1)
        c.add_argument("--repeats", type=int, default=3)
        c.add_argument("--nproc", type=int, default=2)
        c.add_argument("--threads", type=int, default=1, help="OMP threads per process")
        c.add_argument("--out", type=Path, default=Path("benchmarks/out/scaleout-cost"))
    args = parser.parse_args(argv)
    if args.what == "cost":
        return _cost(args)
    if args.what == "epoch-cost":
        return _epoch_cost(args)
    if args.what == "speedup":
        args.search_args = [a for a in args.search_args if a != "--"]
        args.out.mkdir(parents=True, exist_ok=True)
        return _speedup(args)
    return _exit(args)


if __name__ == "__main__":
    sys.exit(main())
