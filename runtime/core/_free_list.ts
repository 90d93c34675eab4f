/**
 * The descriptor table's free list: a min-heap of freed fd numbers, so that
 * the lowest free number is found in O(log n).
 *
 * @module
 */

/** Min-heap of freed fd numbers below `#top`, so allocation is O(log n). */
export class FreeList {
  #heap: number[] = [];
  get size(): number {
    return this.#heap.length;
  }
  peek(): number {
    return this.#heap[0];
  }
  push(v: number): void {
    const h = this.#heap;
    let i = h.push(v) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p] <= v) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = v;
  }
  pop(): number {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const c = l + 1 < h.length && h[l + 1] < h[l] ? l + 1 : l;
        if (h[c] >= last) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
