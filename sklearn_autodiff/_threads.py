"""How many intra-op threads a fit or a prediction uses.

torch parallelises each operation over its intra-op thread pool, and every
parallel operation ends at a barrier that waits for all the pool's threads.
On operations of a few microseconds that barrier costs more than the
threads gain, and when another process holds a core it waits for a thread
the kernel has descheduled (two processes each fitting a small MLP on two
cores ran 76 times slower than one alone). So a call whose largest
operation is small runs on one thread; so does one on a machine of two
cores unless its largest operation is large (the passes over X of the
linear solvers are bound by memory bandwidth, which a second core hardly
adds to), and one on a machine whose load average says the cores are taken
(a second thread would wait for a core another process holds). Otherwise
the call keeps the threads torch is set to use.

The policy never uses more threads than :func:`torch.get_num_threads`
allows (``torch.set_num_threads(1)`` before a call keeps it on one thread),
and the setting it changes is the calling thread's own (OpenMP keeps it per
thread), restored before the call returns: concurrent fits in other threads
are not affected.
"""

import os
from contextlib import contextmanager

import torch

#: Multiply-adds in the largest operation of a call below which one thread
#: is faster than several (measured on 2 cores: a (256 x 100) @ (100 x 100)
#: matmul, 2.6e6, gains nothing from a second thread).
SINGLE_THREAD_WORK = 4_000_000


#: On two cores, the multiply-adds below which one thread is kept: the
#: linear fits' largest products (n d k up to 2.4e7 on issue 23's grid) are
#: passes over X bound by memory, no faster on two threads.
TWO_CORE_THREAD_WORK = 100_000_000


def machine_busy():
    """Whether other processes hold the cores: a 1-minute load average of at least the core count.

    The load average counts this process too when it runs, so a machine
    where it alone computes reads about 1.
    """
    try:
        return os.getloadavg()[0] >= (os.cpu_count() or 1)
    except OSError:  # no load average on this platform
        return False


def threads_for(work, available=None, busy=None):
    """Number of intra-op threads for a call whose largest operation is ``work`` multiply-adds.

    Parameters
    ----------
    work : float
        Multiply-adds of the call's largest operation.
    available : int, optional
        Threads allowed (default :func:`torch.get_num_threads`).
    busy : bool, optional
        Whether other processes hold the cores (default :func:`machine_busy`).
    """
    available = torch.get_num_threads() if available is None else available
    if available <= 1 or work < SINGLE_THREAD_WORK:
        return 1
    if available <= 2 and work < TWO_CORE_THREAD_WORK:
        return 1
    if machine_busy() if busy is None else busy:
        return 1
    return available


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
