// Asking the agent (its listener or its admin API) over HTTP: one request
// with a deadline, the answer as JSON, and a failure to connect turned into
// an error that says what to check.
import { CliError } from './errors.js';

export interface Answer {
  readonly status: number;
  /** The JSON body (undefined when the body was not JSON). */
  readonly body: unknown;
  readonly text: string;
}

export interface RequestOptions {
  readonly method?: 'GET' | 'POST';
  readonly token?: string;
  readonly body?: Record<string, unknown>;
  readonly timeoutMs?: number;
  /** Said after "cannot reach …" (which address to check, how to name another). */
  readonly hint: string;
}

function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

export async function request(url: string, opts: RequestOptions): Promise<Answer> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let res: Response;
  try {
    res = await fetch(url, {
      method: opts.method ?? 'GET',
      headers: {
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.body ? { 'content-type': 'application/json' } : {}),
        'user-agent': 'vigil-cli',
      },
      body: opts.body ? JSON.stringify(opts.body) : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000}s` : causeOf(err);
    throw new CliError('VIGIL_E_AGENT_UNREACHABLE', `cannot reach ${new URL(url).origin} (${why}); ${opts.hint}`);
  }
  const text = await res.text();
  let body: unknown;
  try { body = JSON.parse(text); } catch { body = undefined; }
  return { status: res.status, body, text };
}
