"""How many intra-op threads a fit or a prediction uses.

torch parallelises each operation over its intra-op thread pool, and every
parallel operation ends at a barrier that waits for all the pool's threads.
On operations of a few microseconds that barrier costs more than the
threads gain, and when another process holds a core it waits for a thread
the kernel has descheduled (two processes each fitting a small MLP on two
cores ran 76 times slower than one alone). So a call whose largest
operation is small runs on one thread; a larger one keeps the threads torch
is set to use.

The policy never uses more threads than :func:`torch.get_num_threads`
allows (``torch.set_num_threads(1)`` before a call keeps it on one thread),
and the setting it changes is the calling thread's own (OpenMP keeps it per
thread), restored before the call returns: concurrent fits in other threads
are not affected.
"""

from contextlib import contextmanager

import torch

#: Multiply-adds in the largest operation of a call below which one thread
#: is faster than several (measured on 2 cores: a (256 x 100) @ (100 x 100)
#: matmul, 2.6e6, gains nothing from a second thread).
SINGLE_THREAD_WORK = 4_000_000


def threads_for(work, available=None):
    """Number of intra-op threads for a call whose largest operation is ``work`` multiply-adds."""
    available = torch.get_num_threads() if available is None else available
    return 1 if work < SINGLE_THREAD_WORK else available


@contextmanager
def thread_budget(work):
    """Run the block with :func:`threads_for` ``(work)`` intra-op threads, then restore.

    Parameters
    ----------
    work : float
        Multiply-adds of the block's largest tensor operation.
    """
    available = torch.get_num_threads()
    wanted = threads_for(work, available)
    if wanted == available:
        yield
        return
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(available)
