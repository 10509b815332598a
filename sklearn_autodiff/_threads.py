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

import threading
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


# Per calling thread: the threads the outermost budget was allowed, so that a
# nested budget for one large operation inside a small-operation call (Newton's
# Hessian inside a fit of small products) can use them again.
_allowed = threading.local()


@contextmanager
def thread_budget(work):
    """Run the block with :func:`threads_for` ``(work)`` intra-op threads, then restore.

    Nested in another budget, the block may use up to the threads the
    outermost one was allowed (not only those the enclosing block kept).

    Parameters
    ----------
    work : float
        Multiply-adds of the block's largest tensor operation.
    """
    current = torch.get_num_threads()
    outermost = getattr(_allowed, "threads", None)
    available = current if outermost is None else outermost
    wanted = threads_for(work, available)
    if outermost is None:
        _allowed.threads = available
    try:
        if wanted == current:
            yield
            return
        torch.set_num_threads(wanted)
        try:
            yield
        finally:
            torch.set_num_threads(current)
    finally:
        if outermost is None:
            del _allowed.threads
