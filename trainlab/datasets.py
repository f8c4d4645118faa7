"""Small embedded tasks as in-memory tensors: tabular sets, modular arithmetic, MNIST-1D, noisy labels, MI data.

Everything returns a frozen `Split` (unpackable as `x_train, y_train, x_test, y_test`); no
DataLoader, no downloads (the scikit-learn sets ship with scikit-learn; MNIST-1D is generated
locally by the `mnist1d` package). Same seed -> identical tensors; a different seed -> a different split.

Example:
    >>> from trainlab.datasets import load, add_label_noise
    >>> x_tr, y_tr, x_te, y_te = load("wine", seed=0)
    >>> y_noisy, mask = add_label_noise(y_tr, 0.2, num_classes=3)
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import importlib.metadata
import inspect
import json
import math
import os
import random
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np
import torch
from sklearn import datasets as skd
from sklearn.model_selection import train_test_split

__all__ = ["NAMES", "Split", "load", "add_label_noise", "from_arrays", "from_csv", "gaussian_mutual_information"]


@dataclass(frozen=True, eq=False)
class Split:
    """A train/test split of one data set; iterating yields `(x_train, y_train, x_test, y_test)`.

    `num_classes` is None for regression / mutual-information data. `info` holds read-only extras,
    e.g. `{"mi": ..., "rho": ..., "d": ...}` (ground truth in nats) for "correlated_gaussians".
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int | None
    name: str
    info: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __iter__(self):
        return iter((self.x_train, self.y_train, self.x_test, self.y_test))


def _check_fraction(value: float, arg: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
        raise ValueError(f"{arg} must be a number in (0, 1), got {value!r}")


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")


def _split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int, stratify: bool):
    try:  # sklearn raises ValueError for e.g. a class with one member; say which option caused it
        return train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y if stratify else None)
    except ValueError as err:
        raise ValueError(f"cannot split with test_fraction={test_fraction}, stratify={stratify}: {err}") from None


def _standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Train statistics only, so nothing about the test set leaks into the features.
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # constant columns (e.g. digits' border pixels) stay 0
    return (x_train - mean) / std, (x_test - mean) / std


def _sklearn(name: str, *, seed: int, test_size: float = 0.25, standardize: bool | None = None) -> Split:
    """Stratified split of a bundled scikit-learn set; z-scored with train stats (digits: pixels / 16)."""
    _check_fraction(test_size, "test_size")
    bunch = getattr(skd, f"load_{name}")()
    x, y = bunch.data.astype(np.float64), bunch.target.astype(np.int64)
    if standardize is None:
        standardize = name != "digits"
    if name == "digits" and not standardize:
        x = x / 16.0  # pixel intensities are 0..16; this maps them to [0, 1] without using any statistics
    x_tr, x_te, y_tr, y_te = _split(x, y, test_size, seed, stratify=True)
    if standardize:
        x_tr, x_te = _standardize(x_tr, x_te)
    return _to_split(x_tr, y_tr, x_te, y_te, int(y.max()) + 1, name)


def _to_split(x_tr, y_tr, x_te, y_te, num_classes: int | None, name: str, info: Mapping | None = None) -> Split:
    f = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)  # noqa: E731
    i = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.int64)  # noqa: E731
    return Split(f(x_tr), i(y_tr), f(x_te), i(y_te), num_classes, name, MappingProxyType(dict(info or {})))


_MODULAR_OPS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "modular_addition": torch.add,
    "modular_subtraction": torch.sub,
    "modular_multiplication": torch.mul,
}


def _modular(name: str, *, seed: int, p: int = 97, train_fraction: float = 0.4) -> Split:
    """All pairs (a, b) in [0, p)^2 with y = (a op b) mod p; random train/test split of the p^2 pairs."""
    if isinstance(p, bool) or not isinstance(p, int) or p < 2:
        raise ValueError(f"p must be an integer >= 2, got {p!r}")
    _check_fraction(train_fraction, "train_fraction")
    n = p * p
    n_train = round(train_fraction * n)
    if not 0 < n_train < n:
        raise ValueError(f"train_fraction={train_fraction} leaves an empty train or test set for p={p}")
    a = torch.arange(p).repeat_interleave(p)  # (p^2,) 0,0,...,1,1,...
    b = torch.arange(p).repeat(p)  # (p^2,) 0,1,...,0,1,...
    x = torch.stack([a, b], dim=1)  # (p^2, 2) int64 operands
    y = torch.remainder(_MODULAR_OPS[name](a, b), p)  # remainder is non-negative for subtraction
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    tr, te = perm[:n_train], perm[n_train:]
    return Split(x[tr], y[tr], x[te], y[te], p, name, MappingProxyType({"p": p}))


def _two_moons(name: str, *, seed: int, n: int = 1000, noise: float = 0.1, test_size: float = 0.25) -> Split:
    """sklearn's make_moons (2-D, 2 classes, raw coordinates), stratified split."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 8:
        raise ValueError(f"n must be an integer >= 8, got {n!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    _check_fraction(test_size, "test_size")
    x, y = skd.make_moons(n_samples=n, noise=noise, random_state=seed)
    x_tr, x_te, y_tr, y_te = _split(x, y, test_size, seed, stratify=True)
    return _to_split(x_tr, y_tr, x_te, y_te, 2, name)


def gaussian_mutual_information(d: int, rho: float) -> float:
    """Mutual information I(X; Y) in nats of d independent pairs of unit Gaussians with correlation rho.

    I(X; Y) = -d/2 * log(1 - rho^2). Invertible maps of Y (e.g. y -> y^3) leave it unchanged.

    Args:
        d: number of independent coordinate pairs (>= 1).
        rho: per-coordinate correlation, in (-1, 1).

    Returns:
        The mutual information in nats.

    Example:
        >>> round(gaussian_mutual_information(2, 0.6), 4)  # -log(0.64)
        0.4463
    """
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an integer >= 1, got {d!r}")
    if not -1.0 < rho < 1.0:
        raise ValueError(f"rho must be in (-1, 1), got {rho!r}")
    return -0.5 * d * math.log1p(-rho * rho)


def _correlated_gaussians(
    name: str, *, seed: int, n: int = 4096, d: int = 1, rho: float | None = None, mi: float | None = None,
    cubic: bool = False,
) -> Split:
    """x ~ N(0, I_d), y_k = rho x_k + sqrt(1 - rho^2) e_k; train and test are independent draws of n each.

    Give `rho` (default 0.8) or `mi` in nats (then rho = sqrt(1 - exp(-2 mi / d))), not both.
    `cubic=True` returns y^3 (same MI, non-Gaussian marginal). Ground truth is in `Split.info`.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if rho is not None and mi is not None:
        raise ValueError("give either rho or mi, not both")
    if mi is not None:
        if not 0 <= mi < float("inf"):
            raise ValueError(f"mi must be a finite number >= 0, got {mi!r}")
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ValueError(f"d must be an integer >= 1, got {d!r}")
        rho = math.sqrt(-math.expm1(-2.0 * mi / d))
    rho = 0.8 if rho is None else float(rho)
    true_mi = gaussian_mutual_information(d, rho)  # also validates d and rho
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2 * n, d, generator=g, dtype=torch.float64)
    y = rho * x + math.sqrt(1.0 - rho * rho) * torch.randn(2 * n, d, generator=g, dtype=torch.float64)
    if cubic:
        y = y**3
    x, y = x.float(), y.float()
    info = MappingProxyType({"mi": true_mi, "rho": rho, "d": d, "cubic": bool(cubic)})
    return Split(x[:n], y[:n], x[n:], y[n:], None, name, info)


# ---------------------------------------------------------------- MNIST-1D (generated by the mnist1d package)

_MNIST1D_FORMAT = 1  # bump when the cached file's layout changes
_MNIST1D_KEYS = ("x_train", "y_train", "x_test", "y_test")
_mnist1d_memo: dict[str, tuple[dict[str, np.ndarray], dict[str, Any], str]] = {}
_mnist1d_lock = threading.Lock()  # make_dataset draws from numpy's global RNG: one generation at a time


def _cache_dir() -> Path:
    """$TRAINLAB_CACHE_DIR, else $XDG_CACHE_HOME/trainlab, else ~/.cache/trainlab."""
    env = os.environ.get("TRAINLAB_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "trainlab"


def _mnist1d_generate(mnist1d_data: Any, args: dict[str, Any]) -> dict[str, np.ndarray]:
    """Run the package's own generator with `args`, leaving Python's and numpy's global RNGs as they were."""
    view = mnist1d_data.get_dataset_args()  # the package's own args object; its attributes live in a dict
    for k, v in args.items():
        setattr(view, k, list(v) if isinstance(v, tuple) else v)
    with _mnist1d_lock:
        py_state, np_state = random.getstate(), np.random.get_state()
        try:
            raw = mnist1d_data.make_dataset(view)  # seeds (and so overwrites) both global RNGs
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
    return {"x_train": raw["x"].astype(np.float32), "y_train": raw["y"].astype(np.int64),
            "x_test": raw["x_test"].astype(np.float32), "y_test": raw["y_test"].astype(np.int64)}


def _mnist1d_read(path: Path, args_json: str) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when the file is absent, unreadable or not for these args."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["args"]) != args_json:
                return None
            arrays = {k: f[k] for k in _MNIST1D_KEYS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    ok = (arrays["x_train"].dtype == np.float32 and arrays["x_test"].dtype == np.float32
          and arrays["y_train"].dtype == np.int64 and arrays["y_test"].dtype == np.int64
          and arrays["x_train"].ndim == arrays["x_test"].ndim == 2
          and len(arrays["x_train"]) == len(arrays["y_train"]) and len(arrays["x_test"]) == len(arrays["y_test"]))
    return arrays if ok else None


def _mnist1d_write(path: Path, args_json: str, arrays: dict[str, np.ndarray]) -> None:
    """Write the cache file atomically (temporary file in the same folder, then os.replace); best effort."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.stem + ".", suffix=".tmp", delete=False) as fh:
            tmp = fh.name
            np.savez(fh, args=np.array(args_json), **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass  # a read-only or full cache folder only costs a regeneration next time
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _mnist1d_arrays(seed: int) -> tuple[dict[str, np.ndarray], dict[str, Any], str]:
    """(read-only arrays, generator args, package version) for `seed`, memoised in-process and on disk."""
    try:
        from mnist1d import data as mnist1d_data  # imported here: it pulls in matplotlib.pyplot and requests
    except ImportError as err:
        raise ImportError("load('mnist1d') needs the mnist1d package (pip install mnist1d)") from err
    try:
        version = importlib.metadata.version("mnist1d")
    except importlib.metadata.PackageNotFoundError:  # e.g. a source checkout on sys.path
        version = "unknown"
    args = mnist1d_data.get_dataset_args(as_dict=True)
    args.pop("url", None)  # where the frozen pickle is downloaded from; not a generator argument
    args["seed"] = (int(args["seed"]) + seed) % 2**32  # seed 0 keeps the package's default (42)
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
    args_json = json.dumps({"format": _MNIST1D_FORMAT, "mnist1d": version, "args": args}, sort_keys=True)
    key = hashlib.sha256(args_json.encode()).hexdigest()[:16]
    hit = _mnist1d_memo.get(key)
    if hit is not None:
        return hit
    path = _cache_dir() / "mnist1d" / f"mnist1d-{version}-seed{args['seed']}-{key}.npz"
    arrays = _mnist1d_read(path, args_json)
    if arrays is None:
        arrays = _mnist1d_generate(mnist1d_data, args)
        _mnist1d_write(path, args_json, arrays)
    for a in arrays.values():
        a.flags.writeable = False  # shared by every later call; each Split gets its own copy
    _mnist1d_memo[key] = hit = (arrays, args, version)
    return hit


def _mnist1d(name: str, *, seed: int) -> Split:
    """MNIST-1D from the `mnist1d` package's own generator with its default arguments.

    seed=0 is the paper's fixed set (generator seed 42, the package default); seed s uses generator
    seed (42 + s) mod 2**32, a fresh draw from the same distribution.
    """
    arrays, args, version = _mnist1d_arrays(seed)
    x_tr, y_tr, x_te, y_te = (arrays[k].copy() for k in _MNIST1D_KEYS)
    info = {"generator": "mnist1d.data.make_dataset", "mnist1d_version": version,
            "args": MappingProxyType(dict(args)), "generator_seed": args["seed"], "canonical": seed == 0}
    return _to_split(x_tr, y_tr, x_te, y_te, 10, name, info)


_LOADERS: dict[str, Callable[..., Split]] = {
    **{k: _sklearn for k in ("digits", "wine", "breast_cancer", "iris")},
    **{k: _modular for k in _MODULAR_OPS},
    "two_moons": _two_moons,
    "correlated_gaussians": _correlated_gaussians,
    "mnist1d": _mnist1d,
}
NAMES: tuple[str, ...] = tuple(_LOADERS)


def load(name: str, seed: int = 0, **options: Any) -> Split:
    """Load an embedded data set as in-memory tensors.

    - "digits", "wine", "breast_cancer", "iris": scikit-learn's bundled copies; stratified split
      (`test_size=0.25`, random_state=seed). Tabular sets are z-scored with TRAIN mean/std
      (`standardize=True`); digits default to pixels / 16 in [0, 1] (`standardize=True` z-scores them
      instead). x float32 (N, F), y int64 (N,).
    - "modular_addition" / "_subtraction" / "_multiplication": every (a, b) in [0, p)^2,
      y = (a op b) mod p; x int64 (N, 2); options `p=97`, `train_fraction=0.4` (random split).
    - "two_moons": make_moons, options `n=1000`, `noise=0.1`, `test_size=0.25`.
    - "correlated_gaussians": x, y float32 (n, d), options `n=4096`, `d=1`, `rho=0.8` or `mi=` (nats),
      `cubic=False`; `num_classes` is None and `info["mi"]` is the ground-truth MI in nats.
    - "mnist1d": MNIST-1D (Greydanus & Kobak) made offline by the `mnist1d` package's own generator
      with its default arguments: 4000 train / 1000 test signals, x float32 (N, 40), y int64, 10
      classes, no options. seed=0 is the paper's fixed set, exactly as `make_dataset(get_dataset_args())`
      makes it (generator seed 42); seed s > 0 regenerates with generator seed (42 + s) mod 2**32, a
      fresh draw of the same distribution (so seed=42 is not the paper's set). `info` holds the
      generator args, the generator seed and the package version. Generation takes seconds, so the
      arrays are memoised in-process and cached under $TRAINLAB_CACHE_DIR (default
      ~/.cache/trainlab/mnist1d), keyed by the package version and the args; the global `random` and
      numpy RNG states are left as they were.

    Args:
        name: one of `NAMES`.
        seed: seeds the split (and the sampling, for generated sets; see "mnist1d" above).
        **options: per-set options above; unknown options raise ValueError.

    Returns:
        A `Split`.

    Example:
        >>> s = load("modular_addition", p=13)
        >>> s.x_train.shape, s.num_classes
        (torch.Size([68, 2]), 13)
    """
    if name not in _LOADERS:
        close = difflib.get_close_matches(str(name), NAMES, n=1)
        hint = f"did you mean {close[0]}?" if close else f"available: {', '.join(NAMES)}"
        raise ValueError(f"unknown data set {name}; {hint}")
    _check_seed(seed)
    loader = _LOADERS[name]
    accepted = [k for k, p in inspect.signature(loader).parameters.items() if p.kind is p.KEYWORD_ONLY and k != "seed"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(map(repr, unknown))} for {name!r}; accepted: {', '.join(accepted)}")
    return loader(name, seed=int(seed), **options)


_INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def add_label_noise(
    y: torch.Tensor, rate: float, num_classes: int, kind: str = "symmetric", seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt class labels; the flipped fraction is `rate` in expectation.

    Each label is flipped independently with probability `rate`:
    symmetric: to a class drawn uniformly from the OTHER C-1 classes, y' = (y + U{1..C-1}) mod C
    (so `rate` is the actual noise rate, not the "uniform over all C classes" convention whose
    effective rate is rate*(C-1)/C); pair: y' = (y + 1) mod C.

    Args:
        y: integer labels in [0, num_classes), shape (N,).
        rate: flip probability in [0, 1).
        num_classes: C >= 2.
        kind: "symmetric" or "pair".
        seed: seeds a private torch.Generator; the global RNG is untouched.

    Returns:
        (y_noisy, noisy_mask): y_noisy has y's dtype and device; noisy_mask is True exactly
        where y_noisy != y.

    Example:
        >>> y_noisy, mask = add_label_noise(torch.arange(10) % 3, 0.5, num_classes=3, seed=1)
    """
    if not isinstance(y, torch.Tensor):
        y = torch.as_tensor(np.asarray(y))
    if y.dtype not in _INT_DTYPES:
        raise ValueError(f"y must be an integer tensor, got dtype {y.dtype}")
    if y.dim() != 1:
        raise ValueError(f"y must be 1-D, got shape {tuple(y.shape)}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1), got {rate!r}")
    if kind not in ("symmetric", "pair"):
        raise ValueError(f"kind must be 'symmetric' or 'pair', got {kind!r}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"y has labels outside [0, {num_classes}): min {int(y.min())}, max {int(y.max())}")
    _check_seed(seed)
    g = torch.Generator().manual_seed(int(seed))
    y_cpu = y.detach().cpu().long()
    flip = torch.rand(y_cpu.shape, generator=g) < rate  # (N,) bool, CPU generator
    if kind == "symmetric":
        offset = torch.randint(1, num_classes, y_cpu.shape, generator=g)  # never 0: no self-flips
    else:
        offset = torch.ones_like(y_cpu)
    y_noisy = torch.where(flip, (y_cpu + offset) % num_classes, y_cpu).to(device=y.device, dtype=y.dtype)
    return y_noisy, y_noisy != y


def _as_numpy(a: Any) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def _check_labels(y: np.ndarray, what: str = "y") -> np.ndarray:
    """Integer-valued labels >= 0 as int64; integer-valued floats (1.0, 2.0) are accepted."""
    if y.dtype.kind in "iu":
        labels = y.astype(np.int64)
    elif y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ValueError(f"{what} must hold integer class labels, got non-integer values such as "
                             f"{y[~np.isfinite(y) | (y != np.round(y))][0]!r}")
        labels = y.astype(np.int64)
    else:
        raise ValueError(f"{what} must hold integer class labels, got dtype {y.dtype}")
    if labels.min() < 0:
        raise ValueError(f"{what} must hold labels in [0, K), got {labels.min()}")
    return labels


def from_arrays(
    x: Any, y: Any, test_fraction: float = 0.25, seed: int = 0, stratify: bool = True, name: str = "arrays"
) -> Split:
    """Split user arrays (numpy or torch) into a classification `Split`; features are not rescaled.

    Args:
        x: features (N, F) (or (N,), treated as one feature); finite numbers.
        y: integer labels (N,) in [0, K); integer-valued floats are cast; num_classes = max(y) + 1.
        test_fraction: fraction of rows held out, in (0, 1).
        seed: random_state of the split.
        stratify: keep class proportions in both halves (needs >= 2 rows per class).
        name: stored in `Split.name`.

    Returns:
        A `Split` with x float32 and y int64.

    Example:
        >>> s = from_arrays(np.random.rand(40, 3), np.arange(40) % 2)
    """
    _check_fraction(test_fraction, "test_fraction")
    _check_seed(seed)
    x, y = _as_numpy(x), _as_numpy(y)
    if x.size == 0 or x.shape[0] == 0:
        raise ValueError("x is empty")
    if x.dtype.kind not in "biuf":
        raise ValueError(f"x must be numeric, got dtype {x.dtype}")
    x = x.astype(np.float64).reshape(len(x), -1) if x.ndim == 1 else x.astype(np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be 1-D or 2-D, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or inf")
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"y must be 1-D with one label per row of x ({len(x)}), got shape {y.shape}")
    labels = _check_labels(y)
    x_tr, x_te, y_tr, y_te = _split(x, labels, test_fraction, seed, stratify)
    return _to_split(x_tr, y_tr, x_te, y_te, int(labels.max()) + 1, name)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def from_csv(
    path: str | Path, label_column: int | str = -1, header: bool | str = "infer", test_fraction: float = 0.25,
    seed: int = 0, stratify: bool = True, delimiter: str = ",",
) -> Split:
    """Read a numeric CSV (csv module, no pandas) and split it like `from_arrays`.

    Args:
        path: the CSV file.
        label_column: index (negative counts from the end) or header name of the integer label column;
            all other columns are features and must be numeric.
        header: True, False, or "infer" (the first row is a header when any of its cells is not a number).
        test_fraction: fraction of rows held out, in (0, 1).
        seed: random_state of the split.
        stratify: stratified split.
        delimiter: field separator.

    Returns:
        A `Split` named after the file stem.

    Example:
        >>> s = from_csv("data.csv", label_column="label")  # doctest: +SKIP
    """
    if header not in (True, False, "infer"):
        raise ValueError(f"header must be True, False or 'infer', got {header!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path {str(path)!r} does not exist or is not a file")
    with path.open(newline="") as fh:
        rows = [(i, [c.strip() for c in r]) for i, r in enumerate(csv.reader(fh, delimiter=delimiter), 1)
                if any(c.strip() for c in r)]
    if header == "infer":
        header = bool(rows) and not all(_is_number(c) for c in rows[0][1])
    names = rows.pop(0)[1] if header and rows else None
    if not rows:
        raise ValueError(f"{path} has no data rows")
    width = len(names) if names is not None else len(rows[0][1])
    for line, r in rows:
        if len(r) != width:
            raise ValueError(f"{path} line {line}: expected {width} columns, got {len(r)}")
    if isinstance(label_column, str):
        if names is None or label_column not in names:
            close = difflib.get_close_matches(label_column, names or [], n=1)
            hint = f"; did you mean {close[0]}?" if close else ("; the file has no header" if names is None else "")
            raise ValueError(f"label_column {label_column!r} not found{hint}")
        col = names.index(label_column)
    elif isinstance(label_column, bool) or not isinstance(label_column, int) or not -width <= label_column < width:
        raise ValueError(f"label_column must be a column name or an index in [-{width}, {width}), got {label_column!r}")
    else:
        col = label_column % width
    col_name = repr(names[col]) if names is not None else f"#{col}"
    values = np.empty((len(rows), width))
    for k, (line, r) in enumerate(rows):
        for j, cell in enumerate(r):
            try:
                values[k, j] = float(cell)
            except ValueError:
                what = f"label column {col_name}" if j == col else f"column {names[j]!r}" if names else f"column #{j}"
                raise ValueError(f"{path} line {line}: {what} is not numeric: {cell!r}") from None
    x, y = np.delete(values, col, axis=1), values[:, col]
    _check_labels(y, what=f"label column {col_name}")
    return from_arrays(x, y, test_fraction=test_fraction, seed=seed, stratify=stratify, name=path.stem)
