// Builds dist/browser/: the package for browsers and Electron renderers.
//   run-gguf.js     the API (import { loadModel } from './run-gguf.js')
//   host-worker.js  the module worker that runs the engine
//   pool-worker.js  its helper threads (cross-origin isolated pages)
//   kernels*.wasm   the kernels
// Each file finds the next one relative to its own URL (import.meta.url), so
// the folder works served as is, from a <script type="module"> or a bundler.
// The engine's Node-only pieces are swapped for browser ones here: the
// worker_threads pool for the Web Worker pool, node:os for navigator.
// Usage: node scripts/build-browser.mjs [outdir]
import { build } from 'esbuild';
import { copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WASM = ['kernels.wasm', 'kernels-relaxed.wasm', 'kernels-relaxed-dot.wasm'];

const browserPlugin = {
  name: 'run-gguf-browser',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => {
      // dynamic imports of node:* sit behind Node checks and never run in a browser
      if (args.kind === 'dynamic-import') return { path: args.path, external: true };
      if (args.path === 'node:os') return { path: join(root, 'runtime/threads/os-web.ts') };
      return { errors: [{ text: `static import of ${args.path} on the browser path (${args.importer}); import it dynamically or map it here` }] };
    });
    b.onResolve({ filter: /\/threads\/pool\.js$/ }, (args) => {
      const target = resolve(args.resolveDir, args.path);
      if (target === join(root, 'runtime/threads/pool.js')) return { path: join(root, 'runtime/threads/pool-web.ts') };
      return undefined;
    });
    b.onLoad({ filter: /wasm[\\/]loader\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      const from = "'../../wasm/kernels.wasm'";
      if (!text.includes(from)) return { errors: [{ text: `wasm/loader.ts no longer names ${from}; update scripts/build-browser.mjs` }] };
      return { contents: text.replace(from, "'./kernels.wasm'"), loader: 'ts' };
    });
  },
};

export async function buildBrowser(outdir = join(root, 'dist', 'browser')) {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: {
      'run-gguf': 'runtime/api/index.ts',
      'host-worker': 'runtime/api/host-worker.ts',
      'pool-worker': 'runtime/threads/pool-worker.ts',
    },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    splitting: false,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    plugins: [browserPlugin],
  });
  for (const f of WASM) await copyFile(join(root, 'wasm', f), join(outdir, f));
  return { outdir, files: Object.keys(result.metafile.outputs).map((p) => resolve(root, p)) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await buildBrowser(process.argv[2] ? resolve(process.argv[2]) : undefined);
  console.log(`browser build: ${out.outdir} (${out.files.length} scripts + ${WASM.length} wasm)`);
}
