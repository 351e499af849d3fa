// Which WebAssembly memory holds which tensors. A wasm32 memory holds at most
// 4 GiB; a model whose weights, KV cache and scratch need more is spread over
// several memories, whole layers per memory, filled in order: the input
// tensors (token embeddings...) and layer 0 first, the output head last.
// Each memory has its own instance of the kernels in every thread, and a
// layer's ops run on the instance of the memory that holds it
// (runtime/graph/plan.ts copies the activations across where the graph moves
// from one memory to the next: a few KiB per token per crossing).
//
// Whole layers keep every op's weights and KV cache in one memory. A layer's
// KV cache is reserved beside its weights for the context size given at
// load; a larger context later may not fit its memory (a RangeError then).

/** What the split needs to know of each tensor. */
export interface ShardTensor {
  name: string;
  /** Bytes it takes in memory (aligned). */
  bytes: number;
}

export interface ShardOptions {
  n_layer: number;
  /** KV-cache bytes of one layer at the context size loading assumes. */
  kvBytesPerLayer: number;
  /** Bytes each memory keeps free for plans, inputs, thread stacks and the allocator. */
  reserveBytes: number;
  /** The most bytes one memory may hold. */
  memoryBytes: number;
}

export interface ShardPlan {
  /** Memories used (1 when the model fits in one). */
  count: number;
  /** Memory of each tensor, by name. */
  memoryOf: Map<string, number>;
  /** Memory of each layer (its weights and its KV cache). */
  layerMemory: number[];
  /** Bytes placed in each memory (weights + KV + reserve). */
  bytes: number[];
}

const LAYER = /^blk\.(\d+)\./;
/** Tensors read only at the end: the final norm and the LM head. */
const HEAD = /^(output(_norm)?|result_norm|cls(_out)?)\./;

/**
 * Splits the tensors over memories of at most memoryBytes each: groups (the
 * inputs, each layer with its KV cache, the head) go into the current memory
 * while they fit, else open the next. Throws a RangeError naming the group
 * when one alone exceeds a memory.
 */
export function planShards(tensors: readonly ShardTensor[], o: ShardOptions): ShardPlan {
  const groups: { label: string; names: string[]; bytes: number; layer?: number }[] = [{ label: 'the input tensors', names: [], bytes: 0 }];
  for (let il = 0; il < o.n_layer; il++) groups.push({ label: `layer ${il}`, names: [], bytes: o.kvBytesPerLayer, layer: il });
  const head = { label: 'the output head', names: [] as string[], bytes: 0 };
  groups.push(head);
  for (const t of tensors) {
    const m = LAYER.exec(t.name);
    const g = m ? groups[1 + Number(m[1])] : HEAD.test(t.name) ? head : groups[0];
    // a blk index past n_layer (nextn / MTP layers some files carry) stays with the head
    const target = g ?? head;
    target.names.push(t.name);
    target.bytes += t.bytes;
  }
  const room = o.memoryBytes - o.reserveBytes;
  const plan: ShardPlan = { count: 1, memoryOf: new Map(), layerMemory: new Array<number>(o.n_layer).fill(0), bytes: [o.reserveBytes] };
  let mem = 0;
  for (const g of groups) {
    if (g.bytes > room) {
      throw Object.assign(
        new RangeError(`${g.label} needs ${mib(g.bytes)}, more than one WebAssembly memory of ${mib(o.memoryBytes)} holds beside its ${mib(o.reserveBytes)} reserve`),
        { neededBytes: g.bytes + o.reserveBytes, limitBytes: o.memoryBytes },
      );
    }
    if (plan.bytes[mem]! + g.bytes > o.memoryBytes && plan.bytes[mem]! > o.reserveBytes) {
      mem++;
      plan.bytes.push(o.reserveBytes);
    }
    plan.bytes[mem]! += g.bytes;
    for (const n of g.names) plan.memoryOf.set(n, mem);
    if (g.layer !== undefined) plan.layerMemory[g.layer] = mem;
  }
  plan.count = mem + 1;
  return plan;
}

const mib = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MiB`;
