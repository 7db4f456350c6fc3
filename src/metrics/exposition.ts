// The /metrics body, as one Buffer built from bounded chunks. With 1000
// probes the text is ~2.5 MB; built as one string it lands in V8's
// large-object space with every scrape and stays there until a full
// collection, so a Prometheus scraping every few seconds grew the agent's
// resident memory by tens of MiB. Chunks of ~16 KB are young garbage, and the
// Buffer's memory lives outside the heap and is freed with its small handle.
import type { Registry } from 'prom-client';
import { FastFamily, type TextSink } from './fast-family.js';

const CHUNK_CHARS = 16 * 1024;

class ChunkedText implements TextSink {
  private pending = '';
  private readonly chunks: Buffer[] = [];

  write(text: string): void {
    this.pending += text;
    if (this.pending.length >= CHUNK_CHARS) this.flush();
  }

  finish(): Buffer {
    this.flush();
    return Buffer.concat(this.chunks);
  }

  private flush(): void {
    if (this.pending === '') return;
    this.chunks.push(Buffer.from(this.pending, 'utf8'));
    this.pending = '';
  }
}

/** Exactly registry.metrics()'s text (Prometheus format), as UTF-8 bytes. */
export async function renderExposition(registry: Registry): Promise<Buffer> {
  const out = new ChunkedText();
  let first = true;
  // getMetricsAsArray is typed as prom-client's own metrics; teachRegistry put ours in it too.
  for (const m of registry.getMetricsAsArray() as unknown[]) {
    if (!first) out.write('\n\n');
    first = false;
    if (m instanceof FastFamily) m.renderTo(out);
    else out.write(await registry.getSingleMetricAsString((m as { name: string }).name));
  }
  out.write('\n');
  return out.finish();
}
