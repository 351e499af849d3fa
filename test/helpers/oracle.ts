// node-llama-cpp (llama.cpp's prebuilt binaries, pinned 3.21.1) is the truth
// our outputs are compared with. One Llama instance per test process.
import type { Llama } from 'node-llama-cpp';

let llamaPromise: Promise<Llama> | null = null;

/** The shared CPU-only llama.cpp instance (never builds from source, never uses a GPU). */
export async function oracle(): Promise<Llama> {
  if (!llamaPromise) {
    llamaPromise = import('node-llama-cpp').then(({ getLlama, LlamaLogLevel }) =>
      getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false }),
    );
  }
  return llamaPromise;
}
