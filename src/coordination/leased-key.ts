// Keeps one key bound to this agent's lease: the member's view of its own
// server. When the agent dies, the lease expires and the view disappears, so
// the others stop counting on a witness that is gone. A lost lease (etcd
// unreachable longer than the TTL) is replaced on the next publish.
import type { Etcd3, Lease } from 'etcd3';

export interface PublishOutcome { readonly ok: boolean; readonly detail?: string }

export class LeasedKey {
  private lease: Lease | undefined;
  private leaseId: string | undefined;
  private closed = false;

  constructor(private readonly client: Etcd3, readonly key: string, private readonly ttlSeconds: number) {}

  /** Writes `value` under the lease (granting a new one if needed). Never throws. */
  async publish(value: unknown): Promise<PublishOutcome> {
    if (this.closed) return { ok: false, detail: 'closed' };
    try {
      const id = await this.ensureLease();
      await this.client.put(this.key).value(JSON.stringify(value)).lease(id);
      return { ok: true };
    } catch (err) {
      // A put against an expired lease fails with "requested lease not found": start over.
      this.drop();
      return { ok: false, detail: err instanceof Error ? err.message.replace(/\s+/g, ' ').slice(0, 200) : String(err) };
    }
  }

  /** Deletes the key at once (revoking the lease) so a clean shutdown is seen without waiting a TTL. */
  async close(): Promise<void> {
    this.closed = true;
    const lease = this.lease;
    this.lease = undefined;
    this.leaseId = undefined;
    if (lease) await lease.revoke().catch(() => lease.release());
  }

  private async ensureLease(): Promise<string> {
    if (this.lease && this.leaseId && !this.lease.revoked()) return this.leaseId;
    this.drop();
    const lease = this.client.lease(this.ttlSeconds, { autoKeepAlive: true });
    lease.on('lost', () => { if (this.lease === lease) this.drop(); });
    this.lease = lease;
    try {
      this.leaseId = await lease.grant();
    } catch (err) {
      this.drop();
      throw err;
    }
    return this.leaseId;
  }

  private drop(): void {
    const lease = this.lease;
    this.lease = undefined;
    this.leaseId = undefined;
    // Stop its keepalive; etcd expires it on its own.
    if (lease) lease.release();
  }
}
