"""Keep freed memory inside the process, so that a search step does not fault it back in.

PyTorch allocates CPU tensors with the C library's ``malloc``. A search step allocates and
frees hundreds of megabytes of temporaries (the exact hypergradient keeps a whole second
graph), and glibc's defaults give most of that back to the kernel at once: blocks above
a threshold are separate mappings that ``free`` unmaps, and the free top of the heap is
trimmed. The next step touches the same amount again, one page fault per 4 KiB page. With
:func:`keep_freed_memory` freed blocks stay in the heap and are reused; the process's
resident memory stays at its peak instead of rising and falling with every step.

The ``mdlnas`` command applies it at start-up (``MDLNAS_KEEP_MEMORY=0`` turns it off);
a program that uses the library can call it once itself. It changes the allocator of the
whole process, which is why the library does not do it on import.
"""

from __future__ import annotations

import ctypes
import os
import sys

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_LARGEST_HEAP_BLOCK = 32 * 2**20  # glibc's upper limit for the mmap threshold (64-bit)
_TOP_PAD = 64 * 2**20
_kept = False  # whether keep_freed_memory took effect in this process


def keep_freed_memory() -> bool:
    """Ask glibc to serve blocks up to 32 MiB from the heap, never to trim it, and to
    grow it 64 MiB at a time. Returns whether the settings took effect (False on other
    C libraries and systems, where nothing is changed)."""
    if not sys.platform.startswith("linux") or os.environ.get("MDLNAS_KEEP_MEMORY") == "0":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    # the parameters below are glibc's; only glibc has gnu_get_libc_version
    if not hasattr(libc, "gnu_get_libc_version"):
        return False
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # -1 turns trimming off altogether (mallopt(3)); mallopt returns 1 on success
    settings = ((_M_MMAP_THRESHOLD, _LARGEST_HEAP_BLOCK), (_M_TRIM_THRESHOLD, -1),
                (_M_TOP_PAD, _TOP_PAD))
    global _kept
    _kept = all(mallopt(param, value) == 1 for param, value in settings) or _kept
    return _kept


def freed_memory_kept() -> bool:
    """Whether :func:`keep_freed_memory` took effect in this process (benchmarks record it:
    it changes how long a step takes)."""
    return _kept
