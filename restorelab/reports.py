"""The README's generated blocks, every number read from a committed JSON file.

``python -m restorelab readme`` rewrites each block between its markers
(``<!-- NAME:start -->`` … ``<!-- NAME:end -->``); ``--check`` only compares and names the stale
ones, and a test runs the same comparison, so a number in these blocks cannot drift from the
results it comes from. Each block lists its sources (paths relative to the repository root).

- ``real-photos``: the real-photo table, ``real_markdown`` of ``docs/results/real-photos.json``
  (the same table ``real-table`` prints);
- ``summary``: the "In short" bullets of the Results section, one template per bullet.

Targets (the thresholds a result is held to) are requirements, not measurements: they are written
here, and whether each is met is computed from the numbers.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from restorelab.errors import RestoreLabError
from restorelab.paths import DEFAULT_MODEL, DEFAULT_TICKET

REPO = Path(__file__).resolve().parents[1]

REAL_PHOTOS = "docs/results/real-photos.json"
AIO_CARD = "weights/aio-cpu-21k.json"
AIO_X4 = "benchmarks/results/report-aio-cpu-21k-x4.json"
MIRL = "benchmarks/results/compare-mirl-g-lamp-r600-full.json"
GRIDS_GROUPS = "weights/grids/groups.json"
GRIDS_TABLE1 = "benchmarks/results/grids-table1-per-task-d16.json"
GRIDS_OOD = "benchmarks/results/grids-ood.json"
OES = "benchmarks/results/oes-experiment-all-summary.json"
CORE = "benchmarks/results/core.json"
BIG_PHOTO = "benchmarks/results/backends-12mp.json"
CORE_AVX2 = "benchmarks/results/core-avx2.json"  # the same two benchmarks on an AVX2-only CPU
BIG_PHOTO_AVX2 = "benchmarks/results/backends-12mp-avx2.json"
TICKETS = "benchmarks/results/tickets.json"

SIGMA25_TARGET = 29.5        # dB on CBSD68 σ 25, single pass (docs/mirl.md)
SELECTION_TARGET = 0.90      # GRIDS: right group chosen (docs/grids.md)
OOD_TARGET = 0.60            # GRIDS: hazy / rainy photos flagged out of distribution (docs/grids.md)
FALSE_ALARM_TARGET = 0.05    # GRIDS: in-distribution cases flagged, at most
BIG_PHOTO_TARGET = 15.0      # s for a 12 MP photo on the machine it runs on (docs/backends.md)
TICKET_GAP_TARGET = 0.3      # dB: the app's ticket at most this far below its parent on every family


def _load(root: Path, rel: str) -> dict:
    path = Path(root) / rel
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RestoreLabError(f"{rel}: not found (a README block is generated from it)") from None
    except json.JSONDecodeError as err:
        raise RestoreLabError(f"{rel}: not valid JSON ({err})") from None


def _get(data: Any, rel: str, *keys) -> Any:
    """``data[k0][k1]…``; a list is searched for the item whose ``set``/``model``/``preset`` is the key."""
    cur = data
    for k in keys:
        if isinstance(cur, list) and isinstance(k, str):
            found = [x for x in cur if isinstance(x, dict) and k in (x.get("set"), x.get("model"), x.get("preset"))]
            cur = found[0] if found else None
        elif isinstance(cur, dict):
            cur = cur.get(k)
        else:
            cur = None
        if cur is None:
            raise RestoreLabError(f"{rel}: no {'/'.join(map(str, keys))} (a README block reads it)")
    return cur


def _read(root: Path, rel: str, **paths: tuple) -> SimpleNamespace:
    """The values at ``paths`` (key tuples, as :func:`_get` takes them) in the JSON file ``rel``, by
    name, and the whole file as ``.data``."""
    data = _load(root, rel)
    return SimpleNamespace(data=data, **{name: _get(data, rel, *keys) for name, keys in paths.items()})


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def _above(db: float) -> str:
    """``1.23 dB above`` / ``1.23 dB below``."""
    return f"{abs(db):.2f} dB {'above' if db >= 0 else 'below'}"


def _mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:.2f} MB"


# -- the "In short" bullets -------------------------------------------------------------------
def _bullet_real(root: Path) -> str:
    res = _load(root, REAL_PHOTOS)

    def psnr(row, method):  # as the table shows it, so the differences match the table's cells
        return round(_get(res["rows"], REAL_PHOTOS, row, "methods", method, "psnr"), 2)

    clean = psnr("CBSD68-clean", DEFAULT_MODEL)
    guarded = f"{DEFAULT_MODEL}+guard"  # as restore and the app run it
    cell = _get(res["rows"], REAL_PHOTOS, "CBSD68-clean", "methods").get(guarded)
    default = guarded if cell else DEFAULT_MODEL
    cam = psnr("CBSD68-camera", default) - psnr("CBSD68-camera", "nlm")
    rain = psnr("CBSD68-heavyrain", default) - psnr("CBSD68-heavyrain", "input")
    first = (f"behind its do-no-harm guard (the default of `restore` and the app) `{DEFAULT_MODEL}` hands "
             f"{cell['n'] - cell['restored']} of {cell['n']} clean CBSD68 photos back unchanged (the network "
             f"alone: {clean:.1f} dB against the input)" if cell else
             f"`{DEFAULT_MODEL}` leaves a clean photo almost unchanged ({clean:.1f} dB against itself)")
    # The ticket's worst row per family, the network alone against the network alone.
    worst: dict[str, tuple[float, str]] = {}
    for row in res["rows"]:
        gap = psnr(row["set"], DEFAULT_TICKET) - psnr(row["set"], DEFAULT_MODEL)
        worst[row["family"]] = min(worst.get(row["family"], (gap, row["set"])), (gap, row["set"]))
    gap, where = min(worst.values())
    short = [f for f, (g, _) in worst.items() if g < -TICKET_GAP_TARGET]
    ticket = (f"its lottery ticket `{DEFAULT_TICKET}` is within {TICKET_GAP_TARGET} dB of it on "
              f"{'every degradation family' if not short else 'every family but ' + ', '.join(short)} "
              f"(worst {where} {gap:+.2f} dB; target: every family, {_met(not short)})")
    return (f"- **Real photos**: {first}, is {_above(cam)} non-local means on camera noise and "
            f"{'lifts' if rain >= 0 else 'lowers'} heavy rain by {rain:+.1f} dB; {ticket} "
            f"([docs/real-photos.md](docs/real-photos.md)).")


def _bullet_sigma25(root: Path) -> str:
    single = _read(root, AIO_CARD, m=("results", "rows", "CBSD68-s25", "model")).m
    x4 = _read(root, AIO_X4, psnr=("rows", "CBSD68-s25", "model", "psnr")).psnr
    p = single["psnr"]
    return (f"- **The σ 25 target (papers' protocol)**: `aio-cpu-21k` scores {p:.2f} dB on CBSD68 σ 25 "
            f"({single['n']} images) in a single pass (target ≥ {SIGMA25_TARGET}: {_met(p >= SIGMA25_TARGET)}; "
            f"{x4:.2f} with the ×4 self-ensemble) ([docs/mirl.md](docs/mirl.md)).")


def _bullet_mirl(root: Path) -> str:
    r = _read(root, MIRL, dense=("rows", "aio-cpu"), ticket=("rows", "mirl-g-lamp-r600"))
    images = "every image" if r.data.get("limit") is None else f"the first {r.data['limit']} images of each"
    gap = r.ticket["mean_psnr"] - r.dense["mean_psnr"]
    return (f"- **MIR-L**: the LAMP ticket `mirl-g-lamp-r600`, {r.ticket['sparsity']:.1%} sparse in "
            f"{_mb(r.ticket['file_bytes'])} (dense {_mb(r.dense['file_bytes'])}), scores {r.ticket['mean_psnr']:.3f} "
            f"vs {r.dense['mean_psnr']:.3f} dB dense ({gap:+.2f}) over the six test sets, {images} "
            f"([docs/mirl.md](docs/mirl.md)).")


def _bullet_grids(root: Path) -> str:
    s = _read(root, GRIDS_GROUPS, delta=("search", "delta"), groups=("groups",))
    t = _read(root, GRIDS_TABLE1, g=("GRIDS", "avg"), mix=("mix-all", "avg"))
    o = _read(root, GRIDS_OOD, acc=("mean_accuracy",), n=("n_photos",), haze=("ood_rates", "haze", "rate"),
              rain=("ood_rates", "rain", "rate"), false_alarm=("false_alarm_rate",), per_degradation=("accuracy",),
              rule=("rule",))
    return (f"- **GRIDS**: the shipped δ {s.delta:g} dB grouping ({len(s.groups)} groups) "
            f"{'beats' if t.g > t.mix else 'does not beat'} "
            f"mix-all ({t.g:.2f} vs {t.mix:.2f} dB, equal batches per task); selection picks the right group for "
            f"{o.acc:.1%} of {o.n} CBSD68 photos × {len(o.per_degradation)} degradations (target ≥ "
            f"{SELECTION_TARGET:.0%}: {_met(o.acc >= SELECTION_TARGET)}; rule `{o.rule}`); the out-of-distribution flag catches "
            f"{o.haze:.1%} of hazy and {o.rain:.1%} of rainy photos (target ≥ {OOD_TARGET:.0%}: "
            f"{_met(min(o.haze, o.rain) >= OOD_TARGET)}) at {o.false_alarm:.1%} false alarms (target ≤ "
            f"{FALSE_ALARM_TARGET:.0%}: {_met(o.false_alarm <= FALSE_ALARM_TARGET)}) "
            f"([docs/grids.md](docs/grids.md)).")


def _bullet_oes(root: Path) -> str:
    r = _read(root, OES, learned=("learned",), random=("random",), steps=("steps",))
    mean = r.data["mean"]
    sparse, dense, rand = (_get(mean, OES, k) for k in (r.learned, "dense", r.random))
    over_final = sparse["final_psnr"] - dense["final_psnr"]
    over_random = sparse["final_psnr"] - rand["final_psnr"]
    return (f"- **OES**: with a learned mask (5% of all parameters, the paper's protocol) Sparse-DIP ends "
            f"{_above(over_final)} dense DIP's final (target ≥ +3: {_met(over_final >= 3)}) and {_above(over_random)} "
            f"a random mask of the same density (target ≥ +1: {_met(over_random >= 1)}); mean of "
            f"{len(sparse['images'])} crops, {r.steps:,} steps ([docs/oes.md](docs/oes.md)).")


def _bullet_speed(root: Path) -> str:
    c = _read(root, CORE, r=("presets", "promptir-cpu"), size=("infer_size",), threads=("threads",))
    r, d = c.r, c.data.get("default_path")
    infer = (f"the default restore path ({d['model']} on `{d['backend']}`) takes {d['seconds']['default']:.2f} s per "
             f"{d['size']}² image on {c.threads} cores, ×{d['speedup']['default']:.2f} the naive PyTorch path "
             f"(target ≥ 4: {_met(d['speedup']['default'] >= 4)}; PyTorch fast path ×{d['speedup']['fast']:.2f})"
             if d else f"{r['infer_fast_s']:.2f} s per {c.size}² image on {c.threads} cores "
                       f"(`promptir-cpu`, the preset of `real-cpu`)")
    big = _read(root, BIG_PHOTO, secs=("sizes", "4000x3000", "seconds"), cpu=("cpu", "model"))
    fastest = min(big.secs, key=big.secs.get)
    infer += (f"; a 12 MP photo takes {big.secs[fastest]:.1f} s on `{fastest}` ({big.cpu}; target ≤ "
              f"{BIG_PHOTO_TARGET:g} s: {_met(big.secs[fastest] <= BIG_PHOTO_TARGET)})")
    return (f"- **Speed**: {infer}; training ×{r['train_bf16_speedup']:.2f} the naive path "
            f"with `--precision bf16` (×{r['train_speedup']:.2f} in float32). {_speed_avx2(root)} "
            f"([docs/performance.md](docs/performance.md), [docs/backends.md](docs/backends.md)).")


def _speed_avx2(root: Path) -> str:
    """The same targets on a CPU without AVX-512 (no native bf16: float32 everywhere)."""
    c = _read(root, CORE_AVX2, r=("presets", "promptir-cpu"), d=("default_path",), cpu=("default_path", "cpu"))
    big = _read(root, BIG_PHOTO_AVX2, secs=("sizes", "4000x3000", "seconds"))
    if c.cpu.get("avx512f") or c.data.get("native_bf16"):
        raise RestoreLabError(f"{CORE_AVX2}: not measured on an AVX2-only CPU")
    fastest = min(big.secs, key=big.secs.get)
    x = c.d["speedup"]["default"]
    return (f"On an AVX2-only CPU ({c.cpu['model']}, no AVX-512, bf16 refused) the default path "
            f"(`{c.d['backend']}`) is ×{x:.2f} the naive path ({_met(x >= 4)}), a 12 MP photo takes "
            f"{big.secs[fastest]:.1f} s on `{fastest}` ({_met(big.secs[fastest] <= BIG_PHOTO_TARGET)}) and float32 "
            f"training ×{c.r['train_speedup']:.2f} (bf16 would be ×{c.r['train_bf16_speedup']:.2f}: never chosen there)")


_BULLETS = (_bullet_real, _bullet_sigma25, _bullet_mirl, _bullet_grids, _bullet_oes, _bullet_speed)


def summary_markdown(root: Path = REPO) -> str:
    return "\n".join(textwrap.fill(b(Path(root)), width=105, subsequent_indent="  ", break_long_words=False,
                                   break_on_hyphens=False) for b in _BULLETS)


def real_photos_markdown(root: Path = REPO) -> str:
    from restorelab.evaluation import real_markdown

    return real_markdown(_load(root, REAL_PHOTOS))


# -- zeros vs speed (``benchmarks/bench_tickets.py``'s JSON) ---------------------------------------
def tickets_table(bench: dict) -> str:
    """Markdown: the parent and its tickets side by side (kind, parameters, file size, seconds per
    photo, speed-up, and each ticket's mean and worst PSNR gap to the parent over the evaluation
    sets) from a ``bench_tickets`` result."""
    models, per = bench.get("models") or [], bench.get("per_model") or {}
    if not models or any(m not in per for m in models):
        raise RestoreLabError("ticket benchmark: no models recorded")
    backend = (bench.get("backends") or ["torch"])[0]
    psnr = bench.get("psnr") or {}
    head = ["model", "kind", "parameters", "file MB", f"s per {bench.get('size', 512)}² ({backend})", "speed-up",
            f"PSNR gap to parent, mean of {len(psnr)} sets", "worst set"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, m in enumerate(models):
        r = per[m]
        kind = "dense parent" if i == 0 else "structured ticket" if r.get("structured") else "unstructured ticket"
        nz = r.get("nonzero_params", r["params"])
        params = f"{r['params']:,}" if nz == r["params"] else f"{nz:,} non-zero of {r['params']:,}"
        cells = [f"`{m}`", kind, params, f"{r['file_bytes'] / 1e6:.2f}", f"{r['seconds'][backend]:.2f}",
                 f"×{r['speedup'][backend]:.2f}"]
        gaps = {s: row[f"{m} gap"] for s, row in psnr.items() if f"{m} gap" in row}
        if i == 0 or not gaps:
            cells += ["—", "—"]
        else:
            worst = min(gaps, key=gaps.get)
            cells += [f"{sum(gaps.values()) / len(gaps):+.2f} dB", f"{worst} {gaps[worst]:+.2f} dB"]
        lines.append("| " + " | ".join(cells) + " |")
    cpu = "AVX-512" if bench.get("avx512f") else "AVX2" if bench.get("avx2") else "no AVX2"
    return "\n".join(lines) + (f"\n\nMeasured in one run ({bench.get('threads')} threads, {cpu} CPU); PSNR from "
                               f"`{bench.get('psnr_from', '-')}` (per set: `real-table`).")


def tickets_markdown(root: Path = REPO) -> str:
    return tickets_table(_load(root, TICKETS))


@dataclass(frozen=True)
class Block:
    name: str
    sources: tuple[str, ...]
    render: Callable[[Path], str]


BLOCKS = (
    Block("real-photos", (REAL_PHOTOS,), real_photos_markdown),
    Block("tickets", (TICKETS,), tickets_markdown),
    Block("summary", (REAL_PHOTOS, AIO_CARD, AIO_X4, MIRL, GRIDS_GROUPS, GRIDS_TABLE1, GRIDS_OOD, OES, CORE,
                      BIG_PHOTO, CORE_AVX2, BIG_PHOTO_AVX2), summary_markdown),
)


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def update_readme(text: str, root: Path = REPO) -> tuple[str, list[str]]:
    """``(new_text, stale)``: ``text`` with every block regenerated, and the names of the blocks
    that changed. A block whose markers are missing is an error."""
    stale = []
    for block in BLOCKS:
        start, end = _markers(block.name)
        if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
            raise RestoreLabError(f"README: the block {block.name} needs one `{start}` and, after it, one `{end}`")
        head, rest = text.split(start, 1)
        old, tail = rest.split(end, 1)
        new = "\n" + block.render(Path(root)) + "\n"
        if old != new:
            stale.append(block.name)
        text = head + start + new + end + tail
    return text, stale
