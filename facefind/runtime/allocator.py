"""Process memory: glibc's allocator set so that a decoded photo's memory goes back to the system.

A decoded photo is tens of megabytes. glibc serves such a buffer with mmap and unmaps it when
freed, but after the first one is freed it raises its mmap threshold (up to 32 MB), and later
photos then come from the heap arenas of the threads that decode them, where freed memory is
rarely returned: a burst of photos leaves the process at its peak. A fixed threshold keeps every
large buffer mmapped, and two arenas keep many threads from each holding their own free memory
(bench/memory.py, docs/benchmarks.md). Not glibc (macOS, musl): nothing to do.
"""

from __future__ import annotations

import ctypes
import logging
import sys

logger = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024  # glibc's initial value, kept fixed
ARENAS = 2


def tune_allocator() -> bool:
    """Set glibc's mmap threshold and arena count for this process; True when applied."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_ARENA_MAX, ARENAS))
    if not ok:
        logger.debug("glibc mallopt refused the memory settings")
    return ok
