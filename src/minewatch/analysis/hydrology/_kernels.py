"""Numba kernels on flattened (row-major) grids. Internal: use the public modules.

Conventions
-----------
* Grids are 1-D views of C-ordered 2-D arrays; cell ``i`` is at row ``i // ncols``.
* D8 directions use the ESRI codes: E=1, SE=2, S=4, SW=8, W=16, NW=32, N=64, NE=128.
  ``0`` marks a cell with no receiver (it drains off the grid edge, into a
  nodata hole, or is an unresolved pit of an unconditioned DEM) and ``255``
  marks a nodata cell.
* Neighbours are scanned in the order N, NE, E, SE, S, SW, W, NW; on an exact
  slope tie the first one wins.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

NODATA_DIR = np.uint8(255)
OUTLET_DIR = np.uint8(0)
_FLAT = np.uint8(254)

# Scan order N, NE, E, SE, S, SW, W, NW.
DR = np.array([-1, -1, 0, 1, 1, 1, 0, -1], dtype=np.int64)
DC = np.array([0, 1, 1, 1, 0, -1, -1, -1], dtype=np.int64)
CODES = np.array([64, 128, 1, 2, 4, 8, 16, 32], dtype=np.uint8)
# 0 = cardinal along y, 1 = diagonal, 2 = cardinal along x
KIND = np.array([0, 1, 2, 1, 0, 1, 2, 1], dtype=np.int64)

# Code pointing back at the cell a neighbour was reached from.
REVCODES = np.array([4, 8, 16, 32, 64, 128, 1, 2], dtype=np.uint8)

# ESRI code -> scan index k (or -1).
CODE_TO_K = np.full(256, -1, dtype=np.int64)
for _k in range(8):
    CODE_TO_K[CODES[_k]] = _k


# --------------------------------------------------------------------------- fill
@njit(cache=True)
def _heap_push(hz, hi, size, z, i):
    pos = size
    while pos > 0:
        parent = (pos - 1) >> 1
        if hz[parent] <= z:
            break
        hz[pos] = hz[parent]
        hi[pos] = hi[parent]
        pos = parent
    hz[pos] = z
    hi[pos] = i


@njit(cache=True)
def _heap_pop(hz, hi, size):
    """Remove the root; ``size`` is the size before removal. Returns the index."""
    top = hi[0]
    size -= 1
    z = hz[size]
    i = hi[size]
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and hz[child + 1] < hz[child]:
            child += 1
        if hz[child] >= z:
            break
        hz[pos] = hz[child]
        hi[pos] = hi[child]
        pos = child
    if size > 0:
        hz[pos] = z
        hi[pos] = i
    return top


@njit(cache=True, inline="always")
def _all_open_higher(z, closed, i, nrows, ncols):
    """True when every not-yet-reached neighbour of ``i`` is strictly higher."""
    r = i // ncols
    c = i - r * ncols
    zi = z[i]
    for k in range(8):
        rr = r + DR[k]
        cc = c + DC[k]
        if rr < 0 or rr >= nrows or cc < 0 or cc >= ncols:
            continue
        j = rr * ncols + cc
        if not closed[j] and z[j] <= zi:
            return False
    return True


@njit(cache=True)
def priority_flood_fill(z, valid, nrows, ncols, parent):
    """Fill depressions in place (Barnes et al. 2014, Priority-Flood+).

    Seeds are valid cells on the grid edge or next to a nodata cell. Cells
    reached from a lower or equal spill level are raised to it through a plain
    FIFO (the "pit queue"), the others go through a binary heap.

    ``parent`` (uint8, zero-initialised) receives, for every cell that went
    through the pit queue, the D8 code pointing back to the cell it was
    reached from. Flats of the filled DEM are made only of such cells, and
    these codes route each flat to its outlet along a shortest (breadth-first)
    path: :func:`d8_steepest` uses them for cells without a lower neighbour.
    """
    n = nrows * ncols
    closed = np.zeros(n, dtype=np.uint8)
    cap = 2 * (nrows + ncols) + 1024
    hz = np.empty(cap, dtype=z.dtype)
    hi = np.empty(cap, dtype=np.int64)
    hsize = 0
    pcap = 4096
    pit = np.empty(pcap, dtype=np.int64)
    tstack = np.empty(4096, dtype=np.int64)
    phead = 0
    ptail = 0
    for i in range(n):
        if not valid[i]:
            closed[i] = 1
    for r in range(nrows):
        for c in range(ncols):
            i = r * ncols + c
            if not valid[i]:
                continue
            seed = r == 0 or c == 0 or r == nrows - 1 or c == ncols - 1
            if not seed:
                for k in range(8):
                    if not valid[(r + DR[k]) * ncols + c + DC[k]]:
                        seed = True
                        break
            if seed:
                if hsize == cap:
                    cap *= 2
                    nz = np.empty(cap, dtype=z.dtype)
                    ni = np.empty(cap, dtype=np.int64)
                    nz[:hsize] = hz[:hsize]
                    ni[:hsize] = hi[:hsize]
                    hz, hi = nz, ni
                _heap_push(hz, hi, hsize, z[i], i)
                hsize += 1
                closed[i] = 1
    while hsize > 0 or phead < ptail:
        if phead < ptail:
            c0 = pit[phead]
            phead += 1
            if phead == ptail:
                phead = 0
                ptail = 0
        else:
            c0 = _heap_pop(hz, hi, hsize)
            hsize -= 1
        zc = z[c0]
        r = c0 // ncols
        c = c0 - r * ncols
        for k in range(8):
            rr = r + DR[k]
            cc = c + DC[k]
            if rr < 0 or rr >= nrows or cc < 0 or cc >= ncols:
                continue
            j = rr * ncols + cc
            if closed[j]:
                continue
            closed[j] = 1
            if z[j] <= zc:
                z[j] = zc
                if ptail == pcap:
                    pcap *= 2
                    npit = np.empty(pcap, dtype=np.int64)
                    npit[:ptail] = pit[:ptail]
                    pit = npit
                pit[ptail] = j
                ptail += 1
                parent[j] = REVCODES[k]
            elif _all_open_higher(z, closed, j, nrows, ncols):
                # Zhou et al. (2016): a cell whose open neighbours are all higher
                # keeps its own elevation and can be expanded at once, without
                # the heap; trace up the slope with a stack.
                closed[j] = 1
                tsp = 0
                tstack[tsp] = j
                tsp += 1
                while tsp > 0:
                    tsp -= 1
                    t = tstack[tsp]
                    tr = t // ncols
                    tc = t - tr * ncols
                    for kk in range(8):
                        r2 = tr + DR[kk]
                        c2 = tc + DC[kk]
                        if r2 < 0 or r2 >= nrows or c2 < 0 or c2 >= ncols:
                            continue
                        m = r2 * ncols + c2
                        if closed[m]:
                            continue
                        closed[m] = 1
                        if _all_open_higher(z, closed, m, nrows, ncols):
                            if tsp == tstack.shape[0]:
                                ts2 = np.empty(tsp * 2, dtype=np.int64)
                                ts2[:tsp] = tstack[:tsp]
                                tstack = ts2
                            tstack[tsp] = m
                            tsp += 1
                        else:
                            if hsize == cap:
                                cap *= 2
                                nz = np.empty(cap, dtype=z.dtype)
                                ni = np.empty(cap, dtype=np.int64)
                                nz[:hsize] = hz[:hsize]
                                ni[:hsize] = hi[:hsize]
                                hz, hi = nz, ni
                            _heap_push(hz, hi, hsize, z[m], m)
                            hsize += 1
            else:
                if hsize == cap:
                    cap *= 2
                    nz = np.empty(cap, dtype=z.dtype)
                    ni = np.empty(cap, dtype=np.int64)
                    nz[:hsize] = hz[:hsize]
                    ni[:hsize] = hi[:hsize]
                    hz, hi = nz, ni
                _heap_push(hz, hi, hsize, z[j], j)
                hsize += 1


@njit(cache=True, inline="always")
def _key32(zbits, i):
    b = np.uint64(zbits[i])
    if b >= np.uint64(0x80000000):
        ob = np.uint64(0xFFFFFFFF) - b
    else:
        ob = b + np.uint64(0x80000000)
    return (ob << np.uint64(32)) | np.uint64(i)


_BCH = 64  # bucket-queue chunk size (entries)


@njit(cache=True)
def _bq_alloc(pool, prev, free, nfree, nalloc):
    """Return (chunk, pool, prev, free, nfree, nalloc) with a fresh chunk id."""
    if nfree > 0:
        nfree -= 1
        return free[nfree], pool, prev, free, nfree, nalloc
    if nalloc == pool.shape[0]:
        cap = pool.shape[0] * 2
        p2 = np.empty((cap, _BCH), dtype=np.uint64)
        p2[:nalloc] = pool[:nalloc]
        pr2 = np.empty(cap, dtype=np.int64)
        pr2[:nalloc] = prev[:nalloc]
        f2 = np.empty(cap, dtype=np.int64)
        f2[:nfree] = free[:nfree]
        pool, prev, free = p2, pr2, f2
    c = nalloc
    nalloc += 1
    return c, pool, prev, free, nfree, nalloc


@njit(cache=True, inline="always")
def _bh_push(h, size, key):
    pos = size
    while pos > 0:
        parent = (pos - 1) >> 1
        hp = h[parent]
        if hp <= key:
            break
        h[pos] = hp
        pos = parent
    h[pos] = key


@njit(cache=True, inline="always")
def _bh_pop(h, size):
    top = h[0]
    size -= 1
    key = h[size]
    pos = 0
    while True:
        c = 2 * pos + 1
        if c >= size:
            break
        if c + 1 < size and h[c + 1] < h[c]:
            c += 1
        if h[c] >= key:
            break
        h[pos] = h[c]
        pos = c
    if size > 0:
        h[pos] = key
    return top


@njit(cache=True)
def priority_flood_fill_f32(z, zbits, valid, nrows, ncols, parent):
    """:func:`priority_flood_fill` for float32 grids, with a bucketed priority queue.

    Priority-Flood pops cells in non-decreasing order of level, so its queue
    is monotone: the elevation range is cut into up to 65536 buckets; cells
    above the bucket being flooded wait, unsorted, in chunked lists, and only
    the current bucket lives in a (small, cache-resident) binary heap of
    uint64 entries ``order-preserving float bits << 32 | cell``. ``zbits`` is
    ``z.view(np.uint32)``. Also uses the FIFO pit queue of Priority-Flood+ and
    the trace-up of Zhou et al. (2016). ``parent`` is filled as in
    :func:`priority_flood_fill`, except that cells without a route hold 255
    instead of 0.
    """
    n = nrows * ncols
    # ``parent`` doubles as the "closed" flag (non-zero = reached), saving one
    # randomly accessed array: 255 = reached without a route, other = route.
    closed = parent
    zmin = np.inf
    zmax = -np.inf
    for i in range(n):
        if valid[i]:
            zi = np.float64(z[i])
            zmin = min(zmin, zi)
            zmax = max(zmax, zi)
        else:
            closed[i] = 255
    if zmin > zmax:
        return
    nb = 65536
    nb = min(nb, n // 16 + 1)
    scale = (nb - 1) / (zmax - zmin) if zmax > zmin else 0.0
    pool = np.empty((256, _BCH), dtype=np.uint64)
    prev = np.empty(256, dtype=np.int64)
    free = np.empty(256, dtype=np.int64)
    nfree = 0
    nalloc = 0
    bhead = np.full(nb, -1, dtype=np.int64)
    bfill = np.zeros(nb, dtype=np.int64)
    waiting = 0  # entries in bucket lists
    heap = np.empty(1024, dtype=np.uint64)
    hsize = 0
    low32 = np.uint64(0xFFFFFFFF)
    pcap = 4096
    pit = np.empty(pcap, dtype=np.int64)
    tstack = np.empty(4096, dtype=np.int64)
    phead = 0
    ptail = 0
    # entries are pushed through one code path: ``pend`` collects them first
    pend = np.empty(4096, dtype=np.int64)
    npend = 0
    for r in range(nrows):
        for c in range(ncols):
            i = r * ncols + c
            if not valid[i]:
                continue
            seed = r == 0 or c == 0 or r == nrows - 1 or c == ncols - 1
            if not seed:
                for k in range(8):
                    if not valid[(r + DR[k]) * ncols + c + DC[k]]:
                        seed = True
                        break
            if seed:
                closed[i] = 255
                if npend == pend.shape[0]:
                    p2 = np.empty(npend * 2, dtype=np.int64)
                    p2[:npend] = pend[:npend]
                    pend = p2
                pend[npend] = i
                npend += 1
    cur = -1  # seeds go to their buckets; the first pop takes the lowest
    while True:
        # ---- push pending cells into the bucket queue
        for q in range(npend):
            i = pend[q]
            item = _key32(zbits, i)
            b = int((np.float64(z[i]) - zmin) * scale)
            if b <= cur:
                if hsize == heap.shape[0]:
                    h2 = np.empty(hsize * 2, dtype=np.uint64)
                    h2[:hsize] = heap[:hsize]
                    heap = h2
                _bh_push(heap, hsize, item)
                hsize += 1
            else:
                if bhead[b] < 0 or bfill[b] == _BCH:
                    ch, pool, prev, free, nfree, nalloc = _bq_alloc(pool, prev, free, nfree, nalloc)
                    prev[ch] = bhead[b]
                    bhead[b] = ch
                    bfill[b] = 0
                pool[bhead[b], bfill[b]] = item
                bfill[b] += 1
                waiting += 1
        npend = 0
        # ---- next cell
        if phead < ptail:
            c0 = pit[phead]
            phead += 1
            if phead == ptail:
                phead = 0
                ptail = 0
        else:
            if hsize == 0:
                if waiting == 0:
                    break
                # advance to the next non-empty bucket and heap its entries
                b = cur + 1
                while bhead[b] < 0:
                    b += 1
                cur = b
                ch = bhead[b]
                cnt = bfill[b]
                bhead[b] = -1
                bfill[b] = 0
                while ch >= 0:
                    for q in range(cnt):
                        if hsize == heap.shape[0]:
                            h2 = np.empty(hsize * 2, dtype=np.uint64)
                            h2[:hsize] = heap[:hsize]
                            heap = h2
                        _bh_push(heap, hsize, pool[ch, q])
                        hsize += 1
                    waiting -= cnt
                    nxt = prev[ch]
                    free[nfree] = ch
                    nfree += 1
                    ch = nxt
                    cnt = _BCH
            c0 = np.int64(_bh_pop(heap, hsize) & low32)
            hsize -= 1
        zc = z[c0]
        r = c0 // ncols
        c = c0 - r * ncols
        for k in range(8):
            rr = r + DR[k]
            cc = c + DC[k]
            if rr < 0 or rr >= nrows or cc < 0 or cc >= ncols:
                continue
            j = rr * ncols + cc
            if closed[j]:
                continue
            closed[j] = 255
            if z[j] <= zc:
                z[j] = zc
                if ptail == pcap:
                    pcap *= 2
                    npit = np.empty(pcap, dtype=np.int64)
                    npit[:ptail] = pit[:ptail]
                    pit = npit
                pit[ptail] = j
                ptail += 1
                parent[j] = REVCODES[k]
                continue
            if _all_open_higher(z, closed, j, nrows, ncols):
                # trace up the slope at once (Zhou et al. 2016)
                tsp = 0
                tstack[tsp] = j
                tsp += 1
                while tsp > 0:
                    tsp -= 1
                    t = tstack[tsp]
                    tr = t // ncols
                    tc = t - tr * ncols
                    for kk in range(8):
                        r2 = tr + DR[kk]
                        c2 = tc + DC[kk]
                        if r2 < 0 or r2 >= nrows or c2 < 0 or c2 >= ncols:
                            continue
                        m = r2 * ncols + c2
                        if closed[m]:
                            continue
                        closed[m] = 255
                        if _all_open_higher(z, closed, m, nrows, ncols):
                            if tsp == tstack.shape[0]:
                                ts2 = np.empty(tsp * 2, dtype=np.int64)
                                ts2[:tsp] = tstack[:tsp]
                                tstack = ts2
                            tstack[tsp] = m
                            tsp += 1
                        else:
                            if npend == pend.shape[0]:
                                p2 = np.empty(npend * 2, dtype=np.int64)
                                p2[:npend] = pend[:npend]
                                pend = p2
                            pend[npend] = m
                            npend += 1
                continue
            if npend == pend.shape[0]:
                p2 = np.empty(npend * 2, dtype=np.int64)
                p2[:npend] = pend[:npend]
                pend = p2
            pend[npend] = j
            npend += 1


# --------------------------------------------------------------------------- D8
@njit(parallel=True, cache=True)
def d8_steepest(z, valid, nrows, ncols, dx, dy, dirs, order):
    """Steepest-descent D8 code per cell; flats get ``_FLAT`` (254), boundary flats 0.

    ``order`` lists the scan indices (0=N ... 7=NW) in the order neighbours are
    tried; on an exact slope tie the first one wins. ``dirs`` must hold 0 or,
    for flat cells, a route code from the priority flood, which is kept.
    """
    dd = np.sqrt(dx * dx + dy * dy)
    dist = np.empty(8, dtype=np.float64)
    for k in range(8):
        dist[k] = dy if KIND[k] == 0 else (dd if KIND[k] == 1 else dx)
    for r in prange(nrows):
        for c in range(ncols):
            i = r * ncols + c
            if not valid[i]:
                dirs[i] = NODATA_DIR
                continue
            zi = np.float64(z[i])
            best = 0.0
            code = _FLAT
            boundary = False
            for kk in range(8):
                k = order[kk]
                rr = r + DR[k]
                cc = c + DC[k]
                if rr < 0 or rr >= nrows or cc < 0 or cc >= ncols:
                    boundary = True
                    continue
                j = rr * ncols + cc
                if not valid[j]:
                    boundary = True
                    continue
                s = (zi - np.float64(z[j])) / dist[k]
                if s > best:
                    best = s
                    code = CODES[k]
            if code == _FLAT:
                prior = dirs[i]
                if boundary:
                    code = OUTLET_DIR
                elif prior != 0 and prior != _FLAT and prior != NODATA_DIR:
                    code = prior  # route recorded by the priority flood
            dirs[i] = code


@njit(cache=True, inline="always")
def _qpush(queue, tail, j):
    if tail == queue.shape[0]:
        nq = np.empty(tail * 2, dtype=queue.dtype)
        nq[:tail] = queue[:tail]
        queue = nq
    queue[tail] = j
    return queue


@njit(cache=True)
def resolve_flats(z, nrows, ncols, dirs):
    """Give every flat cell (code 254) a direction (Barnes et al. 2014 gradients).

    A flat is a connected set of equal-elevation cells without a lower
    neighbour. Its cells drain towards its low edges (cells of the same
    elevation that already drain) and away from higher terrain: each flat cell
    takes the neighbour of lowest mask ``2 * towards_lower + (H - away_from_higher)``
    where both terms are breadth-first step counts inside the flat. Barnes
    uses the per-flat maximum of ``away_from_higher`` for ``H``; any constant
    at least that large orders the cells of a flat identically, so the global
    maximum is used and the flats need no labelling. Flat cells that no low
    edge reaches (true pits of an unconditioned DEM) get code 0; their count
    is returned.
    """
    n = nrows * ncols
    nflat = 0
    for i in range(n):
        if dirs[i] == _FLAT:
            nflat += 1
    if nflat == 0:
        return 0
    towards = np.zeros(n, dtype=np.int32)  # low edges: -1, flat cells: BFS steps >= 1
    away = np.zeros(n, dtype=np.int32)
    lowq = np.empty(nflat + 16, dtype=np.int64)
    highq = np.empty(nflat + 16, dtype=np.int64)
    lt = 0
    ht = 0
    # ---- one scan: low edges (draining cells next to an equal flat cell) and
    # high edges (flat cells next to a higher cell)
    for i in range(n):
        if dirs[i] != _FLAT:
            continue
        r = i // ncols
        c = i - r * ncols
        zi = z[i]
        is_high = False
        for k in range(8):
            rr = r + DR[k]
            cc = c + DC[k]
            if rr < 0 or rr >= nrows or cc < 0 or cc >= ncols:
                continue
            j = rr * ncols + cc
            d = dirs[j]
            if d == NODATA_DIR:
                continue
            zj = z[j]
            if zj > zi:
                is_high = True
            elif d != _FLAT and zj == zi and towards[j] == 0:
                towards[j] = -1
                lowq = _qpush(lowq, lt, j)
                lt += 1
        if is_high:
            away[i] = 1
            highq = _qpush(highq, ht, i)
            ht += 1
    # ---- towards lower terrain: BFS from the low edges through the flats
    head = 0
    while head < lt:
        i = lowq[head]
        head += 1
        base = towards[i] + 1 if towards[i] > 0 else 1
        r = i // ncols
        c = i - r * ncols
        zi = z[i]
        for k in range(8):
            rr = r + DR[k]
            cc = c + DC[k]
            if rr < 0 or rr >= nrows or cc < 0 or cc >= ncols:
                continue
            j = rr * ncols + cc
            if towards[j] == 0 and dirs[j] == _FLAT and z[j] == zi:
                towards[j] = base
                lowq = _qpush(lowq, lt, j)
                lt += 1
    # ---- away from higher terrain: BFS from the high edges through the flats
    head = 0
    hmax = 0
    while head < ht:
        i = highq[head]
        head += 1
        a = away[i]
        hmax = max(hmax, a)
        r = i // ncols
        c = i - r * ncols
        zi = z[i]
        for k in range(8):
            rr = r + DR[k]
            cc = c + DC[k]
            if rr < 0 or rr >= nrows or cc < 0 or cc >= ncols:
                continue
            j = rr * ncols + cc
            if away[j] == 0 and dirs[j] == _FLAT and z[j] == zi:
                away[j] = a + 1
                highq = _qpush(highq, ht, j)
                ht += 1
    # ---- directions: neighbour of strictly lowest mask; low edges count as 0.
    # ``towards`` > 0 identifies flat cells, so codes can go straight into dirs.
    unresolved = 0
    for i in range(n):
        if dirs[i] != _FLAT:
            continue
        t = towards[i]
        if t <= 0:
            dirs[i] = OUTLET_DIR
            unresolved += 1
            continue
        r = i // ncols
        c = i - r * ncols
        zi = z[i]
        a = away[i]
        best = 2 * t + (hmax - a if a > 0 else 0)
        code = OUTLET_DIR
        for k in range(8):
            rr = r + DR[k]
            cc = c + DC[k]
            if rr < 0 or rr >= nrows or cc < 0 or cc >= ncols:
                continue
            j = rr * ncols + cc
            tj = towards[j]
            if tj == 0 or z[j] != zi:
                continue
            if tj == -1:
                m = 0
            else:
                aj = away[j]
                m = 2 * tj + (hmax - aj if aj > 0 else 0)
            if m < best:
                best = m
                code = CODES[k]
        dirs[i] = code
        if code == OUTLET_DIR:
            unresolved += 1
    return unresolved


# --------------------------------------------------------------------------- accumulation
@njit(cache=True)
def receiver(dirs, i, nrows, ncols):
    """Receiving cell of cell ``i`` or -1."""
    k = CODE_TO_K[dirs[i]]
    if k < 0:
        return -1
    r = i // ncols
    c = i - r * ncols
    rr = r + DR[k]
    cc = c + DC[k]
    if rr < 0 or rr >= nrows or cc < 0 or cc >= ncols:
        return -1
    j = rr * ncols + cc
    if dirs[j] == NODATA_DIR:
        return -1
    return j


@njit(cache=True)
def d8_accumulate(dirs, nrows, ncols, acc):
    """Accumulate ``acc`` (pre-filled with each cell's own weight) downstream, in place.

    Topological order by in-degree, without a stack: a chain is followed
    downstream as long as the next cell has received all its donors. Cells on
    a cycle (impossible for directions from :func:`d8_steepest`) keep their
    partial sums. Returns the number of cells never completed.
    """
    n = nrows * ncols
    indeg = np.zeros(n, dtype=np.uint8)
    for i in range(n):
        j = receiver(dirs, i, nrows, ncols)
        if j >= 0:
            indeg[j] += 1
    done = 0
    for i in range(n):
        if indeg[i] != 0 or dirs[i] == NODATA_DIR:
            continue
        c = i
        while True:
            done += 1
            indeg[c] = 255  # processed: the outer loop must not start here again
            j = receiver(dirs, c, nrows, ncols)
            if j < 0:
                break
            acc[j] += acc[c]
            indeg[j] -= 1
            if indeg[j] != 0:
                break
            c = j
    nvalid = 0
    for i in range(n):
        if dirs[i] != NODATA_DIR:
            nvalid += 1
    return nvalid - done


@njit(cache=True)
def step_length(dirs, i, ncols, dxr, dyr):
    """Length in metres of the D8 step out of cell ``i`` (0 if it has no receiver)."""
    k = CODE_TO_K[dirs[i]]
    if k < 0:
        return 0.0
    r = i // ncols
    if KIND[k] == 0:
        return dyr[r]
    if KIND[k] == 2:
        return dxr[r]
    return np.sqrt(dxr[r] * dxr[r] + dyr[r] * dyr[r])


@njit(cache=True)
def downstream_from(dirs, nrows, ncols, sources, dxr, dyr, max_dist, dist):
    """Minimum along-flow distance from any source cell, following D8 downstream.

    ``dist`` must hold +inf everywhere it is unset; it is written in place.
    Returns the touched cells (sources first).
    """
    cap = sources.shape[0] * 4 + 64
    touched = np.empty(cap, dtype=np.int64)
    nt = 0
    for s in sources:
        if dist[s] > 0.0:
            if nt == cap:
                cap *= 2
                nt2 = np.empty(cap, dtype=np.int64)
                nt2[:nt] = touched[:nt]
                touched = nt2
            touched[nt] = s
            nt += 1
        dist[s] = 0.0
    for s in sources:
        c = s
        d = 0.0
        while True:
            j = receiver(dirs, c, nrows, ncols)
            if j < 0:
                break
            d += step_length(dirs, c, ncols, dxr, dyr)
            if d > max_dist or dist[j] <= d:
                break
            if dist[j] == np.inf:
                if nt == cap:
                    cap *= 2
                    nt2 = np.empty(cap, dtype=np.int64)
                    nt2[:nt] = touched[:nt]
                    touched = nt2
                touched[nt] = j
                nt += 1
            dist[j] = d
            c = j
    return touched[:nt]


@njit(cache=True)
def upstream_distance(dirs, nrows, ncols, target, dxr, dyr, dist):
    """Catchment of ``target`` with each cell's along-flow distance to it.

    ``dist`` must be +inf everywhere; cells of the catchment get their distance
    (0 at the target). Returns the catchment cells.
    """
    cap = 1024
    stack = np.empty(cap, dtype=np.int64)
    out = np.empty(cap, dtype=np.int64)
    no = 0
    sp = 0
    stack[sp] = target
    sp += 1
    dist[target] = 0.0
    while sp > 0:
        sp -= 1
        c = stack[sp]
        if no == out.shape[0]:
            o2 = np.empty(out.shape[0] * 2, dtype=np.int64)
            o2[:no] = out[:no]
            out = o2
        out[no] = c
        no += 1
        r = c // ncols
        cc0 = c - r * ncols
        for k in range(8):
            rr = r + DR[k]
            cc = cc0 + DC[k]
            if rr < 0 or rr >= nrows or cc < 0 or cc >= ncols:
                continue
            j = rr * ncols + cc
            kk = CODE_TO_K[dirs[j]]
            # neighbour j drains into c if its direction is the opposite of k
            if kk < 0 or kk != (k + 4) % 8:
                continue
            dist[j] = dist[c] + step_length(dirs, j, ncols, dxr, dyr)
            if sp == cap:
                cap *= 2
                s2 = np.empty(cap, dtype=np.int64)
                s2[:sp] = stack[:sp]
                stack = s2
            stack[sp] = j
            sp += 1
    return out[:no]


@njit(cache=True)
def stream_segments(dirs, nrows, ncols, stream):
    """Split a stream mask into segments between heads, junctions and outlets.

    Returns ``(cells, offsets)``: segment ``s`` is ``cells[offsets[s]:offsets[s+1]]``,
    ordered downstream; a segment ends on the junction cell it flows into.
    """
    n = nrows * ncols
    sin = np.zeros(n, dtype=np.uint8)
    for i in range(n):
        if stream[i]:
            j = receiver(dirs, i, nrows, ncols)
            if j >= 0 and stream[j]:
                sin[j] += 1
    cap = 1024
    cells = np.empty(cap, dtype=np.int64)
    nc = 0
    ocap = 256
    offsets = np.empty(ocap, dtype=np.int64)
    ns = 0
    offsets[0] = 0
    for i in range(n):
        if not stream[i] or sin[i] == 1:
            continue
        c = i
        while True:
            if nc == cap:
                cap *= 2
                c2 = np.empty(cap, dtype=np.int64)
                c2[:nc] = cells[:nc]
                cells = c2
            cells[nc] = c
            nc += 1
            j = receiver(dirs, c, nrows, ncols)
            if j < 0 or not stream[j]:
                break
            if sin[j] != 1:
                if nc == cap:
                    cap *= 2
                    c2 = np.empty(cap, dtype=np.int64)
                    c2[:nc] = cells[:nc]
                    cells = c2
                cells[nc] = j
                nc += 1
                break
            c = j
        ns += 1
        if ns + 1 > ocap:
            ocap *= 2
            o2 = np.empty(ocap, dtype=np.int64)
            o2[:ns] = offsets[:ns]
            offsets = o2
        offsets[ns] = nc
    return cells[:nc], offsets[: ns + 1]


# --------------------------------------------------------------------------- D-infinity
@njit(parallel=True, cache=True)
def dinf_angles(z, valid, nrows, ncols, dx, dy, d8dirs, out):
    """Tarboton (1997) D-infinity flow angle in radians, counter-clockwise from east.

    Cells with no downslope facet take the angle of their D8 direction
    (``d8dirs``, e.g. from the flat resolution); cells without receiver get -1.
    """
    # facets: e1 (cardinal) and e2 (diagonal) offsets, ac, af
    e1r = np.array([0, -1, -1, 0, 0, 1, 1, 0])
    e1c = np.array([1, 0, 0, -1, -1, 0, 0, 1])
    e2r = np.array([-1, -1, -1, -1, 1, 1, 1, 1])
    e2c = np.array([1, 1, -1, -1, -1, -1, 1, 1])
    ac = np.array([0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0])
    af = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    # code -> angle
    half_pi = np.pi / 2.0
    for r in prange(nrows):
        for c in range(ncols):
            i = r * ncols + c
            if not valid[i]:
                out[i] = -1.0
                continue
            e0 = np.float64(z[i])
            smax = 0.0
            ang = -1.0
            for f in range(8):
                r1 = r + e1r[f]
                c1 = c + e1c[f]
                r2 = r + e2r[f]
                c2 = c + e2c[f]
                if r1 < 0 or r1 >= nrows or c1 < 0 or c1 >= ncols:
                    continue
                if r2 < 0 or r2 >= nrows or c2 < 0 or c2 >= ncols:
                    continue
                j1 = r1 * ncols + c1
                j2 = r2 * ncols + c2
                if not valid[j1] or not valid[j2]:
                    continue
                # horizontal facets (e1 east/west) run along x first
                if e1r[f] == 0:
                    d1 = dx
                    d2 = dy
                else:
                    d1 = dy
                    d2 = dx
                s1 = (e0 - np.float64(z[j1])) / d1
                s2 = (np.float64(z[j1]) - np.float64(z[j2])) / d2
                rr_ = np.arctan2(s2, s1)
                rmax = np.arctan2(d2, d1)
                if rr_ < 0.0:
                    rr_ = 0.0
                    s = s1
                elif rr_ > rmax:
                    rr_ = rmax
                    s = (e0 - np.float64(z[j2])) / np.sqrt(d1 * d1 + d2 * d2)
                else:
                    s = np.sqrt(s1 * s1 + s2 * s2)
                if s > smax:
                    smax = s
                    ang = af[f] * rr_ + ac[f] * half_pi
            if ang < 0.0:
                k = CODE_TO_K[d8dirs[i]]
                if k >= 0:
                    # ESRI code to angle: E=0, NE=pi/4, N=pi/2 ...
                    ang = np.arctan2(-DR[k] * 1.0, DC[k] * 1.0)
                    if ang < 0.0:
                        ang += 2.0 * np.pi
            elif ang >= 2.0 * np.pi:
                ang -= 2.0 * np.pi
            out[i] = ang


@njit(cache=True)
def dinf_accumulate(angles, valid, nrows, ncols, acc):
    """Accumulate ``acc`` along D-infinity angles (flow split between two neighbours).

    The share going to each of the two neighbours bounding the flow angle is
    proportional to the angular closeness (Tarboton 1997). Flow into nodata or
    off the grid leaves the grid.
    """
    n = nrows * ncols
    quarter = np.pi / 4.0
    # neighbour of angle sector s (counter-clockwise from east): E, NE, N, NW, W, SW, S, SE
    sr = np.array([0, -1, -1, -1, 0, 1, 1, 1])
    sc = np.array([1, 1, 0, -1, -1, -1, 0, 1])
    rec = np.full((n, 2), -1, dtype=np.int64)
    prop = np.zeros((n, 2), dtype=np.float64)
    indeg = np.zeros(n, dtype=np.uint8)
    for i in range(n):
        a = angles[i]
        if not valid[i] or not (a >= 0.0):
            continue
        r = i // ncols
        c = i - r * ncols
        s = int(a // quarter) % 8
        frac = (a - (a // quarter) * quarter) / quarter
        for m in range(2):
            t = (s + m) % 8
            p = (1.0 - frac) if m == 0 else frac
            if p <= 1e-9:
                continue
            rr = r + sr[t]
            cc = c + sc[t]
            if rr < 0 or rr >= nrows or cc < 0 or cc >= ncols:
                continue
            j = rr * ncols + cc
            if not valid[j]:
                continue
            rec[i, m] = j
            prop[i, m] = p
            indeg[j] += 1
    stack = np.empty(1024, dtype=np.int64)
    sp = 0
    for i in range(n):
        if valid[i] and indeg[i] == 0:
            if sp == stack.shape[0]:
                s2 = np.empty(sp * 2, dtype=np.int64)
                s2[:sp] = stack[:sp]
                stack = s2
            stack[sp] = i
            sp += 1
    while sp > 0:
        sp -= 1
        c = stack[sp]
        for m in range(2):
            j = rec[c, m]
            if j < 0:
                continue
            acc[j] += acc[c] * prop[c, m]
            indeg[j] -= 1
            if indeg[j] == 0:
                if sp == stack.shape[0]:
                    s2 = np.empty(sp * 2, dtype=np.int64)
                    s2[:sp] = stack[:sp]
                    stack = s2
                stack[sp] = j
                sp += 1
