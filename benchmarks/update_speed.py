"""Update steps per second of affordkit's TD3 and AWAC, fast and reference, beside Stable-Baselines3's
TD3 and d3rlpy's AWAC, and the fraction of this machine's measured fp32 matmul peak each reaches.

One CPU thread, one process. Every implementation samples its own minibatches from a replay of
random transitions (observation 32, action 4) as it would in training: SB3's ``TD3.train`` from its
replay buffer, d3rlpy's ``AWAC.update`` from ``sample_transition_batch``, affordkit from tensors by
index. Also: K fast learners trained together (algos/td3_seeds.py, algos/awac_seeds.py) against the
same K trained one after another, in updates of all K per second. Implementations are interleaved
in rounds (each runs for about ``--seconds`` per round, the order rotating), and every ratio is
taken within one round, so a machine whose load drifts moves both sides of a ratio alike; the
report gives the median over rounds and the range.

Matmul peak: the best GFLOP/s of a 1024 x 1024 x 1024 float32 product through oneDNN
(``mkldnn::_linear_pointwise``) and through ``torch.mm`` (MKL on x86). The fraction of the peak of
an implementation is (matmul FLOPs of one update, counted by torch's FlopCounterMode on the
reference update of the same networks and batch) x (updates per second) / (oneDNN peak): the
peer libraries' fractions use the same count, their updates being the same products.

With ``--device cuda`` every implementation runs on the GPU (the peers too); minibatch indices are
drawn on the host, as SB3 and d3rlpy draw theirs, and each timed span ends with a device
synchronisation; the peak is that of ``torch.mm`` on the device, and the oneDNN path does not
apply (the fast path is fused Adam and Polyak averaging and the stacked seeds there).

Measure on an idle machine (no other process on any core); numbers from a busy machine are not
comparable between runs:

    OMP_NUM_THREADS=1 python benchmarks/update_speed.py                # writes results/speed.{md,json}
    python benchmarks/update_speed.py --device cuda                    # results/speed_cuda.{md,json}
    python benchmarks/update_speed.py --quick --results-dir /tmp/speed  # checks that everything runs
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from affordkit import atomic
from affordkit.algos import AWAC, TD3, AWACConfig, TD3Config
from affordkit.algos.awac_seeds import AWACSeeds
from affordkit.algos.td3_pixels import PixelTD3
from affordkit.algos.td3_pixels_seeds import PixelTD3Seeds
from affordkit.algos.td3_seeds import TD3Seeds
from affordkit.device import set_cpu_threads
from affordkit.networks import fast
from affordkit.networks.conv import ImageGoalEncoder
from affordkit.types import Batch

try:
    from benchmarks._common import RESULTS, provenance, provenance_lines
except ImportError:  # run as a script from benchmarks/
    from _common import RESULTS, provenance, provenance_lines  # type: ignore[no-redef]

OBS_DIM, ACTION_DIM = 32, 4
DEVICE = torch.device("cpu")
"""Where every implementation runs (``--device``)."""


def synchronize() -> None:
    """Wait for the device's queued work (a no-op on the CPU): the end of every timed span."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


METRICS_EVERY = 100  # affordkit reads its metric tensors this often, as the training loops do


@dataclass
class Impl:
    """One implementation at one setting: ``run(n)`` does n updates, sampling included."""

    name: str
    run: Callable[[int], None]


@dataclass(frozen=True)
class Setting:
    algo: str  # "td3" or "awac"
    batch: int
    hidden: tuple[int, ...]

    @property
    def label(self) -> str:
        return f"{self.algo.upper()} batch {self.batch}, hidden {list(self.hidden)}"


def random_transitions(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "obs": rng.standard_normal((n, OBS_DIM)).astype(np.float32),
        "action": rng.uniform(-1, 1, (n, ACTION_DIM)).astype(np.float32),
        "reward": -(rng.random(n) < 0.8).astype(np.float32),
        "next_obs": rng.standard_normal((n, OBS_DIM)).astype(np.float32),
        "done": (np.arange(n) % 50 == 49).astype(np.float32),
    }


class TensorReplay:
    """Minibatches by index from tensors, with its own generator."""

    def __init__(self, data: dict[str, np.ndarray], batch: int, seed: int) -> None:
        self.t = {k: torch.from_numpy(v).to(DEVICE) for k, v in data.items()}
        self.n, self.batch = len(data["obs"]), batch
        self.g = torch.Generator().manual_seed(seed)

    def sample(self) -> Batch:
        i = torch.randint(self.n, (self.batch,), generator=self.g).to(DEVICE, non_blocking=True)
        return Batch(*(self.t[k].index_select(0, i) for k in ("obs", "action", "reward", "next_obs", "done")))


def affordkit_learner(setting: Setting, implementation: str, seed: int = 0) -> TD3 | AWAC:
    if setting.algo == "td3":
        config = TD3Config(hidden=setting.hidden, implementation=implementation)  # type: ignore[arg-type]
        return TD3(OBS_DIM, ACTION_DIM, config, seed=seed, device=DEVICE)
    awac_config = AWACConfig(
        policy_hidden=setting.hidden, q_hidden=setting.hidden, value_action="sample",
        implementation=implementation,  # type: ignore[arg-type]
    )  # fmt: skip
    return AWAC(OBS_DIM, ACTION_DIM, awac_config, seed=seed, device=DEVICE)


def affordkit_impl(setting: Setting, data: dict[str, np.ndarray], implementation: str) -> Impl:
    learner = affordkit_learner(setting, implementation)
    replay = TensorReplay(data, setting.batch, seed=1)
    sink: list[float] = []

    def run(n: int) -> None:
        for i in range(n):
            metrics = learner.update(replay.sample())
            if i % METRICS_EVERY == 0:
                sink.append(float(metrics["critic/loss"]))  # the one host read, every N steps

    return Impl(f"affordkit {implementation}", run)


def sb3_td3_impl(setting: Setting, data: dict[str, np.ndarray]) -> Impl:
    import gymnasium as gym
    from stable_baselines3 import TD3 as SB3TD3
    from stable_baselines3.common.logger import configure

    class Blank(gym.Env):  # only the spaces: the updates never step it
        observation_space = gym.spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32)
        action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)

    n = len(data["obs"])
    model = SB3TD3(
        "MlpPolicy", Blank(), buffer_size=n, batch_size=setting.batch, learning_starts=0, seed=0,
        policy_kwargs={"net_arch": list(setting.hidden)}, device=str(DEVICE),
    )  # fmt: skip
    model.set_logger(configure(None, []))
    buffer = model.replay_buffer
    assert buffer is not None
    buffer.observations[:, 0] = data["obs"]
    buffer.next_observations[:, 0] = data["next_obs"]
    buffer.actions[:, 0] = data["action"]
    buffer.rewards[:, 0] = data["reward"]
    buffer.dones[:, 0] = data["done"]
    buffer.pos, buffer.full = 0, True

    def run(steps: int) -> None:
        model.train(gradient_steps=steps, batch_size=setting.batch)

    return Impl("Stable-Baselines3", run)


def d3rlpy_awac_impl(setting: Setting, data: dict[str, np.ndarray]) -> Impl:
    import d3rlpy
    from d3rlpy.models.encoders import VectorEncoderFactory

    dataset = d3rlpy.dataset.MDPDataset(
        data["obs"], data["action"], data["reward"][:, None], data["done"]
    )  # fmt: skip
    algo = d3rlpy.algos.AWACConfig(
        batch_size=setting.batch,
        actor_encoder_factory=VectorEncoderFactory(list(setting.hidden)),
        critic_encoder_factory=VectorEncoderFactory(list(setting.hidden)),
    ).create(device="cuda:0" if DEVICE.type == "cuda" else "cpu:0")
    algo.build_with_dataset(dataset)

    def run(steps: int) -> None:
        for _ in range(steps):
            algo.update(dataset.sample_transition_batch(setting.batch))

    return Impl("d3rlpy", run)


PIXEL_SIZE = 48  # the pixel baseline's images (RIG's 48x48 encoder)


def random_images(n: int, seed: int) -> dict[str, np.ndarray]:
    """Transitions of the pixel baseline: flat uint8 observation-and-goal images, 2-d actions."""
    rng = np.random.default_rng(seed)
    d = 2 * PIXEL_SIZE * PIXEL_SIZE * 3
    return {
        "obs": rng.integers(0, 256, (n, d), dtype=np.uint8),
        "action": rng.uniform(-1, 1, (n, 2)).astype(np.float32),
        "reward": -rng.random(n).astype(np.float32),
        "next_obs": rng.integers(0, 256, (n, d), dtype=np.uint8),
        "done": np.zeros(n, dtype=np.float32),
    }


def image_encoder() -> tuple[torch.nn.Module, int]:
    module = ImageGoalEncoder(PIXEL_SIZE)
    return module, module.feature_dim


def seeds_impls(setting: Setting, data: dict[str, np.ndarray], k: int) -> list[Impl]:
    """K fast learners one after another, and the same K trained together (TD3Seeds, AWACSeeds,
    PixelTD3Seeds); each learner samples its own minibatches. One "update" of either is an update
    of all K."""
    together: TD3Seeds | AWACSeeds
    if setting.algo == "pixel_td3":
        config = TD3Config(hidden=setting.hidden)
        d = data["obs"].shape[1]
        singles: list[Any] = [PixelTD3(d, 2, image_encoder, config, seed=s, device=DEVICE) for s in range(k)]
        together = PixelTD3Seeds(d, 2, image_encoder, config, seeds=list(range(k)), device=DEVICE)
        # the encoders' other conv path too (grouped on the CPU, K convs on a GPU): the default's case
        other = PixelTD3Seeds(d, 2, image_encoder, config, seeds=list(range(k)), device=DEVICE)
        other.conv_grouped = DEVICE.type == "cpu"
    else:
        singles = [affordkit_learner(setting, "fast", seed=s) for s in range(k)]
        stacked_class = TD3Seeds if setting.algo == "td3" else AWACSeeds
        together = stacked_class(
            OBS_DIM,
            ACTION_DIM,
            singles[0].config,
            seeds=list(range(k)),
            device=DEVICE,  # type: ignore[arg-type]
        )
    replays = [TensorReplay(data, setting.batch, seed=10 + s) for s in range(k)]
    fields = ("obs", "action", "reward", "next_obs", "done")

    def sequential(n: int) -> None:
        for single, replay in zip(singles, replays, strict=True):
            for _ in range(n):
                single.update(replay.sample())

    def batched(n: int, learners: TD3Seeds | AWACSeeds = together) -> None:
        for _ in range(n):
            parts = [replay.sample() for replay in replays]
            learners.update(Batch(*(torch.stack([getattr(p, f) for p in parts]) for f in fields)))

    impls = [Impl(f"{k} seeds sequential", sequential), Impl(f"{k} seeds together", batched)]
    if setting.algo == "pixel_td3":
        name = "grouped convs" if DEVICE.type == "cpu" else "K convs"
        impls.append(Impl(f"{k} seeds together, {name}", lambda n: batched(n, other)))
    return impls


def measure_seeds(setting: Setting, data: dict[str, np.ndarray], k: int, rounds: int, seconds: float) -> dict:
    rates = interleave(seeds_impls(setting, data, k), rounds, seconds)
    seq, tog = rates[f"{k} seeds sequential"], rates[f"{k} seeds together"]
    result = {
        "algo": setting.algo,
        "seeds": k,
        "batch": setting.batch,
        "hidden": list(setting.hidden),
        "updates_of_all_seeds_per_second": {name: summary(r) for name, r in rates.items()},
        "ratio_together_over_sequential": summary([t / q for t, q in zip(tog, seq, strict=True)]),
    }
    for name, other in rates.items():
        if name.startswith(f"{k} seeds together, "):
            # the conv path that is not the device's default (PixelTD3Seeds.conv_grouped)
            result["other_conv_path"] = {
                "name": name.removeprefix(f"{k} seeds together, "),
                "ratio_over_sequential": summary([t / q for t, q in zip(other, seq, strict=True)]),
            }
    return result


# ---- measuring --------------------------------------------------------------------------------------


def update_flops(setting: Setting, data: dict[str, np.ndarray]) -> float:
    """Matmul FLOPs of one update (TD3: the mean over a policy-delay cycle), from the reference."""
    learner = affordkit_learner(setting, "reference")
    replay = TensorReplay(data, setting.batch, seed=2)
    cycle = learner.config.policy_delay if isinstance(learner, TD3) else 1
    with FlopCounterMode(display=False) as counter:
        for _ in range(cycle):
            learner.update(replay.sample())
    return counter.get_total_flops() / cycle


def matmul_peak(seconds: float) -> dict[str, float]:
    """Best GFLOP/s of a 1024^3 float32 product through oneDNN and through torch.mm (on a GPU:
    torch.mm there, 4096^3, the default float32 precision)."""
    size = 4096 if DEVICE.type == "cuda" else 1024
    a, b = torch.randn(size, size, device=DEVICE), torch.randn(size, size, device=DEVICE)
    flops = 2 * size**3
    kernels: dict[str, Callable[[], Any]] = {"torch.mm": lambda: torch.mm(a, b.t())}
    op = fast._op()
    if op is not None and DEVICE.type == "cpu":
        kernels["oneDNN"] = lambda: op(a, b, None, "none", [], "")
    best = dict.fromkeys(kernels, 0.0)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for name, kernel in kernels.items():
            kernel()
            synchronize()
            start = time.perf_counter()
            kernel()
            synchronize()
            best[name] = max(best[name], flops / (time.perf_counter() - start) / 1e9)
    return best


def interleave(impls: list[Impl], rounds: int, seconds: float) -> dict[str, list[float]]:
    """Updates per second of each implementation in each round (order rotating per round)."""
    steps = {}
    for impl in impls:  # warm up, then size each one's share of a round
        impl.run(2)
        synchronize()
        start = time.perf_counter()
        impl.run(2)
        synchronize()
        steps[impl.name] = max(2, round(seconds / ((time.perf_counter() - start) / 2)))
    rates: dict[str, list[float]] = {impl.name: [] for impl in impls}
    for r in range(rounds):
        for impl in impls[r % len(impls) :] + impls[: r % len(impls)]:
            synchronize()
            start = time.perf_counter()
            impl.run(steps[impl.name])
            synchronize()
            rates[impl.name].append(steps[impl.name] / (time.perf_counter() - start))
    return rates


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def measure_setting(
    setting: Setting, data: dict[str, np.ndarray], rounds: int, seconds: float, peak: float
) -> dict[str, Any]:
    peer_name = "Stable-Baselines3" if setting.algo == "td3" else "d3rlpy"
    peer_module = "stable_baselines3" if setting.algo == "td3" else "d3rlpy"
    impls = [affordkit_impl(setting, data, "fast"), affordkit_impl(setting, data, "reference")]
    if importlib.util.find_spec(peer_module) is not None:
        peer = sb3_td3_impl if setting.algo == "td3" else d3rlpy_awac_impl
        impls.append(peer(setting, data))
    rates = interleave(impls, rounds, seconds)
    flops = update_flops(setting, data)
    out: dict[str, Any] = {
        "algo": setting.algo,
        "batch": setting.batch,
        "hidden": list(setting.hidden),
        "flops_per_update": flops,
        "updates_per_second": {name: summary(r) for name, r in rates.items()},
        "fraction_of_onednn_peak": {
            name: flops * statistics.median(r) / (peak * 1e9) for name, r in rates.items()
        },
        "ratios": {},
    }
    fast_rates = rates["affordkit fast"]
    for other in [name for name in rates if name != "affordkit fast"]:
        per_round = [f / o for f, o in zip(fast_rates, rates[other], strict=True)]
        out["ratios"][f"fast / {other}"] = summary(per_round)
    if peer_name in rates:
        per_round = [r / p for r, p in zip(rates["affordkit reference"], rates[peer_name], strict=True)]
        out["ratios"][f"reference / {peer_name}"] = summary(per_round)
    return out


# ---- report -----------------------------------------------------------------------------------------


BAR = {"td3": ("Stable-Baselines3", 2.0), "awac": ("d3rlpy", 2.5)}


def markdown(payload: dict[str, Any]) -> str:
    peak = payload["matmul_peak_gflops"]
    lines = [
        "# Update speed: affordkit against Stable-Baselines3 TD3 and d3rlpy AWAC",
        "",
        *provenance_lines(payload["provenance"]),
        f"- device: {payload.get('device', 'cpu')}; threads: {payload['threads']}; oneDNN Linear in the "
        f"fast path: {payload['onednn_check']['use']} ({payload['onednn_check']['reason']})",
        f"- rounds: {payload['rounds']}, about {payload['seconds']} s per implementation per round",
        "",
        f"Matmul peak ({payload.get('peak_size', 1024)}^3 float32, best of the run): "
        + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peak.items()),
        "",
        "| setting | implementation | updates/s (median) | fraction of the peak (oneDNN on a CPU) |",
        "|---|---|---:|---:|",
    ]
    for s in payload["settings"]:
        label = f"{s['algo'].upper()} B={s['batch']} {s['hidden']}"
        for name, rate in s["updates_per_second"].items():
            lines.append(
                f"| {label} | {name} | {rate['median']:.1f} | {s['fraction_of_onednn_peak'][name]:.0%} |"
            )
    lines += ["", "| setting | ratio | median | range over rounds | bar |", "|---|---|---:|---:|---|"]
    for s in payload["settings"]:
        label = f"{s['algo'].upper()} B={s['batch']} {s['hidden']}"
        peer, bar = BAR[s["algo"]]
        for name, ratio in s["ratios"].items():
            verdict = ""
            if name == f"fast / {peer}":
                verdict = f">= {bar}x: " + ("met" if ratio["median"] >= bar else "NOT met")
            lines.append(
                f"| {label} | {name} | {ratio['median']:.2f}x | {ratio['min']:.2f}-{ratio['max']:.2f}x "
                f"| {verdict} |"
            )
    if payload["seeds"]:
        lines += [
            "",
            "K learners (fast) trained together (TD3Seeds, AWACSeeds; PIXEL_TD3: PixelTD3Seeds, 48x48 images)"
            " against the same K one after another:",
            "",
            "| setting | sequential (K-updates/s) | together (K-updates/s) | together / sequential | bar |",
            "|---|---:|---:|---:|---|",
        ]
        for s in payload["seeds"]:
            k, rates, ratio = (
                s["seeds"],
                s["updates_of_all_seeds_per_second"],
                s["ratio_together_over_sequential"],
            )
            algo = s.get("algo", "td3").upper()  # results written before AWACSeeds: TD3 only
            sequential = rates[f"{k} seeds sequential"]["median"]
            lines.append(
                f"| {algo} K={k} B={s['batch']} {s['hidden']} | {sequential:.1f} "
                f"| {rates[f'{k} seeds together']['median']:.1f} | {ratio['median']:.2f}x "
                f"({ratio['min']:.2f}-{ratio['max']:.2f}) "
                f"| >= 3x: {'met' if ratio['median'] >= 3 else 'NOT met'} |"
            )
        for s in payload["seeds"]:
            if "other_conv_path" in s:
                other = s["other_conv_path"]
                r = other["ratio_over_sequential"]
                default = "K convs" if payload.get("device", "cpu") == "cpu" else "grouped"
                lines.append(
                    f"\n{s['algo'].upper()} K={s['seeds']}, the encoders' convs as {other['name']} instead "
                    f"of the device's default ({default}): {r['median']:.2f}x ({r['min']:.2f}-{r['max']:.2f})"
                    " sequential."
                )
    lines += [
        "",
        "Bar at batch >= 256: the fast path reaches >= 60% of the measured oneDNN peak: "
        + ", ".join(
            f"{s['algo'].upper()} B={s['batch']} {s['hidden']} "
            f"{s['fraction_of_onednn_peak']['affordkit fast']:.0%}"
            for s in payload["settings"]
            if s["batch"] >= 256
        ),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="per implementation per round")
    parser.add_argument("--batches", type=int, nargs="+", default=[128, 256, 1024])
    parser.add_argument("--algos", nargs="+", default=["td3", "awac"], choices=["td3", "awac"])
    parser.add_argument("--seeds", type=int, default=5, help="K of the seeds-together measurement; 0: none")
    parser.add_argument(
        "--pixel-seeds",
        type=int,
        default=0,
        help="K of a seeds-together measurement of the pixel baseline (PixelTD3Seeds, 48x48, B=128); 0: none",
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 0.1 s, batch 128: a check only")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--out", default=None, help="file name stem of the results (speed, speed_cuda)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: this torch sees no CUDA device")
    global DEVICE
    DEVICE = torch.device(args.device)
    args.out = args.out or ("speed_cuda" if DEVICE.type == "cuda" else "speed")
    if args.quick:
        args.rounds, args.seconds, args.batches = 1, 0.1, [128]
    threads = set_cpu_threads("one")
    check = fast.onednn_check() if DEVICE.type == "cpu" else fast.OneDNNCheck(False, "not on the CPU")
    data = random_transitions(20_000 if args.quick else 100_000, seed=0)
    peak = matmul_peak(0.5 if args.quick else 3.0)
    settings = [
        Setting(algo, b, h)
        for algo in args.algos
        for b in args.batches
        for h in ([(400, 300), (256, 256)] if algo == "td3" else [(256, 256)])
    ]
    results = []
    for setting in settings:
        best = peak.get("oneDNN", peak["torch.mm"])
        result = measure_setting(setting, data, args.rounds, args.seconds, best)
        results.append(result)
        fast_rate = result["updates_per_second"]["affordkit fast"]["median"]
        ratios = ", ".join(f"{k} {v['median']:.2f}x" for k, v in result["ratios"].items())
        print(f"{setting.label}: fast {fast_rate:.1f} updates/s; {ratios}", flush=True)
    seeds = []
    if args.seeds > 0:
        for algo in args.algos:
            for batch in args.batches:
                setting = Setting(algo, batch, (400, 300) if algo == "td3" else (256, 256))
                seeds.append(measure_seeds(setting, data, args.seeds, args.rounds, args.seconds))
                ratio = seeds[-1]["ratio_together_over_sequential"]["median"]
                print(
                    f"{args.seeds} {algo.upper()} seeds together, batch {batch}: {ratio:.2f}x sequential",
                    flush=True,
                )
    if args.pixel_seeds > 0:
        setting = Setting("pixel_td3", 128, (400, 300))
        images = random_images(2_000, seed=0)
        seeds.append(measure_seeds(setting, images, args.pixel_seeds, args.rounds, args.seconds))
        ratio = seeds[-1]["ratio_together_over_sequential"]["median"]
        print(
            f"{args.pixel_seeds} pixel-baseline seeds together, batch 128: {ratio:.2f}x sequential",
            flush=True,
        )
    payload = {
        "device": torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else "cpu",
        "peak_size": 4096 if DEVICE.type == "cuda" else 1024,
        "threads": threads,
        "rounds": args.rounds,
        "seconds": args.seconds,
        "obs_dim": OBS_DIM,
        "action_dim": ACTION_DIM,
        "onednn_check": {"use": check.use, "reason": check.reason, "max_error": check.max_error},
        "matmul_peak_gflops": peak,
        "settings": results,
        "seeds": seeds,
        "provenance": provenance(),
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_text(args.results_dir / f"{args.out}.json", json.dumps(payload, indent=2) + "\n")
    text = markdown(payload)
    atomic.write_text(args.results_dir / f"{args.out}.md", text)
    print(text)


if __name__ == "__main__":
    main()
