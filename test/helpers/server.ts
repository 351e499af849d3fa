// Raw HTTP against a run-gguf server (node:http, as curl would), and /metrics read back.
import { request } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): any;
}

export function raw(url: string, o: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: o.method ?? (o.body !== undefined ? 'POST' : 'GET'), headers: { 'content-type': 'application/json', ...o.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

/** The unlabelled samples of /metrics as name -> value (run_gguf_ prefix dropped). */
export async function metrics(base: string, headers: Record<string, string> = {}): Promise<Record<string, number>> {
  const r = await raw(`${base}/metrics`, { headers });
  const out: Record<string, number> = {};
  for (const line of r.text.split('\n')) {
    const m = line.match(/^run_gguf_(\w+) (\S+)$/);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}
