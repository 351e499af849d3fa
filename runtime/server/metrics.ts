// Counters for /metrics, written in Prometheus' text format (version 0.0.4).

export class Metrics {
  /** Requests answered or streamed, by route. */
  readonly requests = new Map<string, number>();
  /** Requests answered with an error, by status. */
  readonly errors = new Map<number, number>();
  promptTokens = 0;
  cachedPromptTokens = 0;
  generatedTokens = 0;
  /** Generations stopped because their client went away. */
  aborted = 0;
  /** Seconds spent in steps that evaluated prompt tokens / generated tokens. */
  promptSeconds = 0;
  generationSeconds = 0;

  constructor(private readonly gauges: () => { slotsBusy: number; slotsTotal: number; queued: number }) {}

  countRequest(route: string): void {
    this.requests.set(route, (this.requests.get(route) ?? 0) + 1);
  }

  countError(status: number): void {
    this.errors.set(status, (this.errors.get(status) ?? 0) + 1);
  }

  text(): string {
    const g = this.gauges();
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, rows: [string, number][]) => {
      lines.push(`# HELP run_gguf_${name} ${help}`, `# TYPE run_gguf_${name} ${type}`);
      for (const [labels, v] of rows) lines.push(`run_gguf_${name}${labels} ${Number.isFinite(v) ? v : 0}`);
    };
    metric('requests_total', 'counter', 'Requests handled, by route.', [...this.requests].map(([r, n]) => [`{route="${r}"}`, n]));
    metric('errors_total', 'counter', 'Requests answered with an error, by HTTP status.', [...this.errors].map(([s, n]) => [`{status="${s}"}`, n]));
    metric('prompt_tokens_total', 'counter', 'Prompt tokens evaluated.', [['', this.promptTokens]]);
    metric('prompt_tokens_cached_total', 'counter', 'Prompt tokens reused from a slot\'s previous prompt.', [['', this.cachedPromptTokens]]);
    metric('generated_tokens_total', 'counter', 'Tokens generated.', [['', this.generatedTokens]]);
    metric('requests_aborted_total', 'counter', 'Generations stopped because the client disconnected.', [['', this.aborted]]);
    metric('slots_busy', 'gauge', 'Slots generating or evaluating a prompt.', [['', g.slotsBusy]]);
    metric('slots_total', 'gauge', 'Slots (sequences of the context).', [['', g.slotsTotal]]);
    metric('requests_queued', 'gauge', 'Requests waiting for a free slot.', [['', g.queued]]);
    metric('prompt_tokens_per_second', 'gauge', 'Prompt tokens evaluated per second of prompt steps, since start.', [['', this.promptSeconds > 0 ? this.promptTokens / this.promptSeconds : 0]]);
    metric('generated_tokens_per_second', 'gauge', 'Tokens generated per second of generation steps (all slots together), since start.', [['', this.generationSeconds > 0 ? this.generatedTokens / this.generationSeconds : 0]]);
    return `${lines.join('\n')}\n`;
  }
}
