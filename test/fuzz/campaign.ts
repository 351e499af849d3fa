// The fuzz campaign: cases run in a worker process (child.ts) under a
// watchdog. Each case has `timeoutMs` (a hang past it kills the worker), the
// worker's resident memory is polled against `memoryCapBytes` (past it: a
// 'memory' finding, the worker killed), and a worker that dies mid-case is a
// 'crash'. After any of these a new worker goes on with the next case.
// Case i mutates corpus file i mod n with seed caseSeed(seed, i), so any
// finding is reproduced with `npm run fuzz -- --seed S --case i`.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaseResult, Outcome } from './case.js';

export interface CampaignOptions {
  /** Cases to run at most. */
  cases: number;
  /** The first case's number (a long campaign split over processes). Default 0. */
  first?: number;
  seed: number;
  /** Stop starting new cases after this long (ms). Default: no limit. */
  budgetMs?: number;
  /** Per case. Default 2000. */
  timeoutMs?: number;
  /** Resident memory of the worker process that counts as unbounded. Default 1.5 GiB. */
  memoryCapBytes?: number;
  /** A fresh worker after this many cases (so slow leaks across cases are not blamed on one). Default 500. */
  recycleAfter?: number;
  /** Extra environment for the worker processes (the tests' RUN_GGUF_FUZZ_INJECT). */
  env?: Record<string, string>;
  /** Checked before each case: true ends the campaign (Ctrl+C in the long run). */
  shouldStop?: () => boolean;
  /** Each case's outcome as it ends. */
  onCase?: (i: number, c: CaseRecord) => void;
}

export interface CaseRecord {
  case: number;
  corpus: string;
  level: string;
  what: string;
  outcome: Outcome;
  stage?: string;
  error?: string;
  message?: string;
  ms: number;
  /** The worker's resident memory after the case. */
  rss?: number;
}

export interface CampaignReport {
  seed: number;
  cases: number;
  corpus: string[];
  outcomes: Record<Outcome, number>;
  /** Typed errors by class and stage ("ModelError@load"). */
  errors: Record<string, number>;
  /** Outcomes per mutated level. */
  levels: Record<string, Partial<Record<Outcome, number>>>;
  /** Every case that was not ok or typed. */
  findings: CaseRecord[];
  slowestMs: number;
  /** Cases past their time once that ran on a second try in a fresh worker (a busy machine), not counted as hangs. */
  retried: number;
  peakRssBytes: number;
  elapsedMs: number;
}

export function caseSeed(seed: number, i: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(i + 1, 0xc2b2ae35)) >>> 0;
}

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'child.js');

function rssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

interface Worker {
  proc: ChildProcess;
  corpus: string[];
  ran: number;
}

function startWorker(env: Record<string, string>): Promise<Worker> {
  return new Promise((resolve, reject) => {
    // the JS heap bounded too, so a runaway allocation ends as a crash rather than swapping
    // detached: a Ctrl+C meant for the campaign does not end the case in progress as a 'crash'
    const proc = fork(CHILD, [], {
      execArgv: ['--max-old-space-size=1024'], stdio: ['ignore', 'ignore', 'ignore', 'ipc'], serialization: 'advanced', detached: true, env: { ...process.env, ...env },
    });
    proc.once('message', (m: { type: string; corpus: string[] }) => resolve({ proc, corpus: m.corpus, ran: 0 }));
    proc.once('exit', (code, sig) => reject(new Error(`the fuzz worker exited while starting (${code ?? sig})`)));
  });
}

export async function runCampaign(o: CampaignOptions): Promise<CampaignReport> {
  const timeoutMs = o.timeoutMs ?? 2000;
  const cap = o.memoryCapBytes ?? 1.5 * 1024 ** 3;
  const recycle = o.recycleAfter ?? 500;
  const t0 = performance.now();
  const report: CampaignReport = {
    seed: o.seed, cases: 0, corpus: [], outcomes: { ok: 0, typed: 0, untyped: 0, hang: 0, crash: 0, memory: 0 },
    errors: {}, levels: {}, findings: [], slowestMs: 0, retried: 0, peakRssBytes: 0, elapsedMs: 0,
  };
  let worker: Worker | undefined;
  const kill = () => {
    worker?.proc.removeAllListeners();
    worker?.proc.kill('SIGKILL');
    worker = undefined;
  };
  try {
    for (let i = o.first ?? 0; i < (o.first ?? 0) + o.cases; i++) {
      if (o.budgetMs !== undefined && performance.now() - t0 > o.budgetMs) break;
      if (o.shouldStop?.()) break;
      if (worker && worker.ran >= recycle) kill();
      let rec = await runOne(i);
      // a case past its time once may only have been starved of CPU: it is a hang when a fresh worker times out on it again
      if (rec.outcome === 'hang') {
        const again = await runOne(i);
        if (again.outcome !== 'hang') {
          report.retried++;
          rec = { ...again, message: `${again.message ?? ''} (ran on a second try; the first passed ${timeoutMs} ms)`.trim() };
        }
      }
      report.cases++;
      report.outcomes[rec.outcome]++;
      const lv = (report.levels[rec.level] ??= {});
      lv[rec.outcome] = (lv[rec.outcome] ?? 0) + 1;
      if (rec.outcome === 'typed') report.errors[`${rec.error}@${rec.stage}`] = (report.errors[`${rec.error}@${rec.stage}`] ?? 0) + 1;
      if (rec.outcome !== 'ok' && rec.outcome !== 'typed') report.findings.push(rec);
      report.slowestMs = Math.max(report.slowestMs, rec.ms);
      o.onCase?.(i, rec);
    }
  } finally {
    kill();
  }
  report.elapsedMs = performance.now() - t0;
  return report;

  async function runOne(i: number): Promise<CaseRecord> {
    worker ??= await startWorker(o.env ?? {});
    report.corpus = worker.corpus;
    const w = worker;
    const index = i % w.corpus.length;
    return new Promise<CaseRecord>((resolve) => {
      let base = { case: i, corpus: w.corpus[index]!, level: '?', what: '?' };
      const started = performance.now();
      const end = (r: CaseRecord) => {
        clearTimeout(timer);
        clearInterval(poll);
        w.proc.removeAllListeners('message');
        w.proc.removeAllListeners('exit');
        resolve(r);
      };
      const timer = setTimeout(() => {
        kill();
        end({ ...base, outcome: 'hang', ms: performance.now() - started });
      }, timeoutMs);
      const poll = setInterval(() => {
        const rss = rssOf(w.proc.pid);
        report.peakRssBytes = Math.max(report.peakRssBytes, rss);
        if (rss > cap) {
          kill();
          end({ ...base, outcome: 'memory', message: `resident memory ${(rss / 2 ** 20).toFixed(0)} MiB`, ms: performance.now() - started });
        }
      }, 50);
      w.proc.on('message', (m: { type: string; level: string; what: string; result: CaseResult; rss: number }) => {
        if (m.type === 'start') {
          base = { ...base, level: m.level, what: m.what };
          return;
        }
        report.peakRssBytes = Math.max(report.peakRssBytes, m.rss);
        w.ran++;
        end({ ...base, level: m.level, what: m.what, ...m.result, rss: m.rss });
      });
      w.proc.once('exit', (code, sig) => {
        worker = undefined;
        end({ ...base, outcome: 'crash', message: `worker exited (${code ?? sig})`, ms: performance.now() - started });
      });
      w.proc.send({ id: i, index, seed: caseSeed(o.seed, i) });
    });
  }
}
