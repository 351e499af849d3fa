// Which phases of a plan need a barrier after them. Every thread runs every
// phase, each its own share; a barrier makes all threads finish one phase
// before any starts the next. That is needed only when the next phase could
// touch bytes another thread is still touching in a phase since the last
// barrier: it reads what one of them writes, or writes what one of them reads
// or writes. A one-token decode of a llama layer has 21 phases; attn_q, attn_k
// and attn_v read the same converted input and write their own outputs, as do
// ffn_up and ffn_gate, and the two ropes, so they need no barrier between them.
//
// Phases may also declare their split (Phase.rows): thread ith touches only
// rows rows_range(rows, ith, nth) of each tensor it is given whole. Two such
// phases with the same row count, one writing a tensor the other then reads,
// have each thread read its own rows: no barrier (rope of K, then its store
// into the cache). With one row, thread 0 does all of the phase, whatever the
// thread count, so a chain of one-row phases (a decode token's norm, then the
// conversion of its row for the matmuls) runs on thread 0 without barriers.
//
// Phases are grouped greedily in plan order, so no bits change: each phase
// computes what it computed with a barrier before it.

/** A byte range a phase reads or writes, in one memory. */
export interface Access {
  mem: number;
  lo: number;
  hi: number;
  write: boolean;
  /**
   * Set when the phase is given the whole tensor (an intermediate, not a view
   * or an offset into it) and touches it by its declared rows.
   */
  whole?: object;
}

export interface PhaseAccesses {
  /** The phase's declared split (Phase.rows), if any. */
  rows?: number;
  accesses: readonly Access[];
}

function safe(a: PhaseAccesses, x: Access, b: PhaseAccesses, y: Access): boolean {
  if (x.mem !== y.mem || x.hi <= y.lo || y.hi <= x.lo || (!x.write && !y.write)) return true;
  // one row: both run entirely on thread 0
  if (a.rows === 1 && b.rows === 1) return true;
  // the same tensor split into the same rows: each thread touches its own rows in both
  return a.rows !== undefined && a.rows === b.rows && x.whole !== undefined && x.whole === y.whole;
}

/** Whether phase p touches what a phase of the group writes, or writes what one touches. */
function hazard(group: readonly PhaseAccesses[], p: PhaseAccesses): boolean {
  for (const m of group) {
    for (const x of m.accesses) {
      for (const y of p.accesses) if (!safe(m, x, p, y)) return true;
    }
  }
  return false;
}

/**
 * For each phase, whether a barrier must follow it (the last phase's is the
 * end of the run, which the pool always waits for: true).
 */
export function barriersAfter(phases: readonly PhaseAccesses[]): boolean[] {
  const sync = phases.map(() => true);
  let group: PhaseAccesses[] = [];
  phases.forEach((p, i) => {
    if (hazard(group, p)) {
      group = [];
    } else if (i > 0) {
      sync[i - 1] = false;
    }
    group.push(p);
  });
  return sync;
}
