"""
One model over data held by two processes (torch.distributed)
==============================================================

Run with ``torchrun --standalone --nproc-per-node=2 examples/distributed_fit.py``: torchrun
starts two processes (ranks) and gives each the address of the group.
Each rank reads only its own shard of the data and calls ``fit`` on it with
``distributed=True``; both end with the same model, the one a single
process would fit on all the rows. ``python examples/distributed_fit.py``
starts the two ranks itself, through torchrun's module.
"""

# The gallery shows this script without running it (it starts processes).

import os
import subprocess
import sys
import warnings

import numpy as np
import torch
import torch.distributed as dist
from sklearn.datasets import make_classification

from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier


def load_shard(rank, world_size):
    """This rank's rows: here a slice of one generated data set, usually a file of its own."""
    X, y = make_classification(20_000, 20, n_informative=10, random_state=0)
    return X[rank::world_size], y[rank::world_size], X, y


def main():
    # gloo runs on CPUs. On GPUs: "nccl", torch.cuda.set_device(local_rank)
    # and device=f"cuda:{local_rank}", local_rank = int(os.environ["LOCAL_RANK"]).
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    if rank != 0:
        # The ranks fit one model, so they would all give the same warnings
        # (a ConvergenceWarning of the 20-epoch MLP): show them once.
        warnings.simplefilter("ignore")
    X, y, X_all, y_all = load_shard(rank, world_size)

    linear = BCELogisticClassifier(distributed=True).fit(X, y)
    mlp = MLPSoftmaxClassifier((32,), max_iter=20, random_state=0, distributed=True).fit(X, y)

    # Check against one process fitting the whole data set (only for the demo).
    alone = BCELogisticClassifier().fit(X_all, y_all)
    difference = np.abs(linear.predict_proba(X_all) - alone.predict_proba(X_all)).max()
    if rank == 0:
        # Accuracy on the 20,000 training rows of both ranks together (a
        # synthetic problem with 10 informative features of 20: about 0.72 is
        # what a linear model gets, the MLP does better).
        print(f"{world_size} ranks, {len(y)} rows each")
        print(f"linear model ({linear.solver_}, {linear.n_iter_} iterations): "
              f"training accuracy on all rows {linear.score(X_all, y_all):.4f}, "
              f"largest |proba difference| from one process on all rows: {difference:.1e}")
        print(f"MLP ({mlp.n_iter_} epochs of synchronous data-parallel Adam): "
              f"training accuracy on all rows {mlp.score(X_all, y_all):.4f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    if "RANK" in os.environ:  # started by torchrun
        torch.set_num_threads(1)
        main()
    else:  # started by hand: let torchrun's module start the two ranks
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc-per-node=2", os.path.abspath(__file__)]
        done = subprocess.run(command, capture_output=True, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        print(done.stdout, end="")
        if done.returncode:
            sys.exit(done.stderr)
