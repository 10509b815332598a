"""Data-parallel fits over :mod:`torch.distributed`: the few collectives a fit needs.

With ``distributed=True`` every rank of the default process group calls
``fit`` on its own shard, and the ranks agree on everything that must be
the same for one model: the classes (their union), the seed, the number of
features, the weight normalisation, and at every step the objective and its
derivatives (sums over ranks). A fit talks to the process group only
through a :class:`Communicator`; without ``distributed`` it gets
:data:`LOCAL`, whose operations cost nothing.

Errors a rank raises before training (bad input in its shard) are gathered
and raised on every rank, so no rank waits forever in a collective the
failing one never reaches.
"""

import numpy as np
import torch


class Communicator:
    """The operations of one process working alone (every one a no-op).

    Attributes
    ----------
    rank : int
    world_size : int
    active : bool
        False here: there is nobody to talk to.
    """

    rank = 0
    world_size = 1
    active = False

    def sum(self, tensors):
        """Sum each tensor over ranks, in place; returns ``tensors``."""
        return tensors

    def gather(self, obj):
        """The list of every rank's ``obj`` (picklable), in rank order."""
        return [obj]

    def agree(self, function):
        """Run ``function()``; if it raises on any rank, raise on every rank.

        Returns ``function()``'s result. The error raised everywhere is the
        lowest failing rank's, of its type, its message prefixed by
        ``"Rank r of n failed: "``.
        """
        return function()

    def max(self, value):
        """The largest of the ranks' ``value`` (a float)."""
        return float(value)

    def any(self, flag):
        """Whether ``flag`` is true on any rank."""
        return self.max(1.0 if flag else 0.0) > 0

    def broadcast_module(self, module):
        """Make every rank's parameters and buffers those of rank 0."""


#: The communicator of a fit that is not distributed.
LOCAL = Communicator()


class ProcessGroup(Communicator):
    """The default :mod:`torch.distributed` process group."""

    active = True

    def __init__(self):
        import torch.distributed as dist

        self.dist = dist
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.backend = dist.get_backend()

    def _wire(self, tensor):
        """``tensor`` where the backend reduces: this rank's GPU for NCCL, else the CPU."""
        if self.backend == "nccl":
            if tensor.device.type == "cuda":
                return tensor
            return tensor.to(torch.device("cuda", torch.cuda.current_device()))
        return tensor if tensor.device.type == "cpu" else tensor.cpu()

    def sum(self, tensors):
        tensors = [t for t in tensors if t is not None]
        if not tensors:
            return tensors
        # One collective per dtype: a flat buffer instead of one call a tensor.
        by_dtype = {}
        for t in tensors:
            by_dtype.setdefault((t.dtype, t.device), []).append(t)
        for group in by_dtype.values():
            flat = self._wire(torch.cat([t.reshape(-1) for t in group]))
            self.dist.all_reduce(flat)
            start = 0
            for t in group:
                t.copy_(flat[start : start + t.numel()].view_as(t))
                start += t.numel()
        return tensors

    def gather(self, obj):
        out = [None] * self.world_size
        self.dist.all_gather_object(out, obj)
        return out

    def agree(self, function):
        error = None
        try:
            result = function()
        except Exception as exc:  # re-raised below, on every rank
            error, result = exc, None
        errors = self.gather(None if error is None else _portable(error))
        failed = [(rank, exc) for rank, exc in enumerate(errors) if exc is not None]
        if not failed:
            return result
        # The same error on every rank, the failing one's chained to its original.
        rank, exc = failed[0]
        raise _on_every_rank(exc, rank, self.world_size) from error

    def max(self, value):
        value = self._wire(torch.tensor([float(value)], dtype=torch.float64))
        self.dist.all_reduce(value, op=self.dist.ReduceOp.MAX)
        return float(value.item())

    def broadcast_module(self, module):
        with torch.no_grad():
            for tensor in [*module.parameters(), *module.buffers()]:
                wire = self._wire(tensor.detach())
                self.dist.broadcast(wire, src=0)
                if wire.data_ptr() != tensor.data_ptr():
                    tensor.copy_(wire)


def _portable(exc):
    """``exc`` if it pickles, else a RuntimeError with its message."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _on_every_rank(exc, rank, world_size):
    """The error of ``rank``, as every rank raises it.

    Same type as the original where that type can be built from a message,
    so ``except ValueError`` works the same on every rank.
    """
    message = f"Rank {rank} of {world_size} failed: {exc}"
    try:
        return type(exc)(message)
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {message}")


def communicator(distributed):
    """The :class:`Communicator` of a fit with ``distributed`` (True or False).

    Raises
    ------
    ValueError
        If ``distributed=True`` and no default process group is initialised.
    """
    if not distributed:
        return LOCAL
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        raise ValueError(
            "distributed=True needs an initialized default process group: call "
            "torch.distributed.init_process_group() first in every process (torchrun "
            "sets the environment it reads), or use distributed=False."
        )
    return ProcessGroup()


def union_of_labels(label_lists):
    """The sorted union of the ranks' label arrays, with a clear error if they mix types."""
    arrays = [np.asarray(labels) for labels in label_lists]
    try:
        return np.unique(np.concatenate(arrays))
    except TypeError as exc:
        kinds = sorted({str(a.dtype) for a in arrays})
        raise ValueError(
            f"The ranks' labels have incompatible types ({', '.join(kinds)}); every "
            "rank must pass labels of the same type."
        ) from exc


def agree_on_shards(comm, seed, X, y, labels, parameters=None):
    """What the ranks must share before training, from one gather.

    Parameters
    ----------
    comm : Communicator
    seed : int
        This rank's seed; rank 0's wins (``random_state=None`` draws differ).
    X : array or tensor
        This rank's validated shard.
    y : ndarray
    labels : ndarray
        This rank's candidate class labels.
    parameters : dict, optional
        The estimator's parameters that every rank must share, as text.

    Returns
    -------
    seed : int
    labels : ndarray
        The union of the ranks' labels.
    class_counts : dict
        Samples of each label over all ranks.

    Raises
    ------
    ValueError
        On every rank, if the shards differ in their number of features or
        dtype, or the estimators in their parameters.
    """
    present, counts = np.unique(y, return_counts=True)
    shards = comm.gather(
        {
            "seed": seed,
            "labels": labels,
            "counts": list(zip(present.tolist(), counts.tolist())),
            "n_features": X.shape[1],
            "dtype": str(X.dtype).replace("torch.", ""),
            "parameters": parameters or {},
        }
    )
    differing = sorted(
        name for name in shards[0]["parameters"]
        if len({repr(s["parameters"].get(name)) for s in shards}) > 1
    )
    if differing:
        raise ValueError(
            f"The ranks' estimators differ in {', '.join(differing)}; every rank must "
            "build the estimator with the same parameters (random_state, device and "
            "verbose aside)."
        )
    for key, what in (("n_features", "features"), ("dtype", "dtype")):
        values = [shard[key] for shard in shards]
        if len(set(values)) > 1:
            listing = ", ".join(f"rank {r}: {v}" for r, v in enumerate(values))
            raise ValueError(
                f"The ranks' shards differ in their {what} ({listing}); every rank "
                "must pass X with the same columns and dtype."
            )
    class_counts = {}
    for shard in shards:
        for label, count in shard["counts"]:
            class_counts[label] = class_counts.get(label, 0) + count
    return shards[0]["seed"], union_of_labels([s["labels"] for s in shards]), class_counts


def shared_parameters(estimator):
    """The parameters every rank of a distributed fit must share, as comparable text.

    ``random_state`` may differ (rank 0's seed is used), ``device`` (each
    rank its own GPU) and ``verbose`` (progress printed by one rank only);
    the rest must not.
    """
    params = estimator.get_params(deep=False)
    for name in ("random_state", "device", "verbose"):
        params.pop(name, None)
    text = {name: repr(value) for name, value in sorted(params.items())}
    # A repr with an address (a function, an object without __repr__) differs
    # between processes whatever it holds: not comparable.
    return {name: r for name, r in text.items() if " at 0x" not in r}
