// One HTTP listener (the main one or the admin API) and what protects it:
// the web config file (TLS, basic auth, headers, rate limit), the Host
// allow-list, refusal of browser-forgeable requests, a connection cap and
// request timeouts. The fastify app stays built by buildApp/buildAdminApp;
// this object makes its server (fastify's serverFactory) and adds hooks, so
// inject() tests of the routes need none of it.
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerFactory } from 'fastify';
import type { Logger } from 'pino';
import type { ListenerSettings } from '../config/listener.js';
import type { WebConfig } from '../config/web-config.js';
import type { Metrics } from '../metrics/catalogue.js';
import { hostAllowed } from './allowed-hosts.js';
import { BcryptWorker } from './bcrypt-worker.js';
import { BasicAuth } from './basic-auth.js';
import { applyTls, clientCertProblem, tlsServerOptions } from './client-cert.js';
import { refuseCrossSite, type CrossSiteScope } from './csrf.js';
import { TokenBucket } from './rate-limit.js';
import { refuse, type RefusalReason } from './refusals.js';
import { WebConfigWatch } from './web-config-watch.js';

export type ListenerName = 'main' | 'admin';

export interface ListenerDeps {
  readonly name: ListenerName;
  readonly logger: Logger;
  readonly metrics: Metrics['listener'];
  /** Whether basic_auth_users may be used (not on the admin API: its bearer token takes the Authorization header). */
  readonly basicAuth: boolean;
  /** At close, connections still open after this are cut (a slow client must not hold shutdown). */
  readonly closeGraceMs?: number;
}

type AnyServer = http.Server | https.Server;

/** How often Node looks for requests past their timeouts (its default, 30 s, would let a timeout overrun by that much). */
const checkingInterval = (s: ListenerSettings) => Math.max(100, Math.min(1000, Math.floor(s.headersTimeoutMs / 4)));

const bucketOf = (c: WebConfig | undefined) => (c?.rateLimit ? new TokenBucket(c.rateLimit.intervalMs, c.rateLimit.burst) : undefined);

export class Listener {
  #settings: ListenerSettings;
  #watch: WebConfigWatch | undefined;
  #bucket: TokenBucket | undefined;
  readonly #auth: BasicAuth;
  readonly #servers = new Set<AnyServer>();
  readonly #sockets = new Set<Socket>();
  /** Fixed when the listener is built: switching between HTTP and HTTPS takes a restart. */
  readonly tls: boolean;
  readonly #labels: { listener: ListenerName };

  constructor(settings: ListenerSettings, private readonly deps: ListenerDeps) {
    this.#settings = settings;
    this.#labels = { listener: deps.name };
    this.tls = settings.webConfig?.tls !== undefined;
    this.#watch = settings.webConfig ? this.#watchOf(settings.webConfig) : undefined;
    this.#bucket = bucketOf(settings.webConfig);
    this.#auth = new BasicAuth(new BcryptWorker({
      onFailure: (err) => deps.logger.error({ listener: deps.name, err: err.message },
        `listener ${deps.name}: the password-checking worker failed (${err.message}); requests with a password get 503 until it works again`),
    }));
    deps.metrics.connections.set(this.#labels, 0);
  }

  /** Options to spread into Fastify({...}): the server is made here. */
  fastifyOptions(): { serverFactory: FastifyServerFactory } {
    // An https.Server hands fastify the same request and response objects as an http.Server (fastify's own https option builds one too).
    return { serverFactory: ((handler: http.RequestListener) => this.#createServer(handler)) as unknown as FastifyServerFactory };
  }

  /** Adds the request checks to `app`, in order: headers, Host, rate limit, basic auth, then browser-forgeable requests. */
  install(app: FastifyInstance, crossSite: CrossSiteScope): void {
    app.addHook('onRequest', (req, reply) => this.#guard(req, reply));
    app.addHook('onRequest', refuseCrossSite(crossSite, (reason) => this.#refused(reason)));
    app.addHook('preClose', async () => {
      setTimeout(() => { for (const s of this.#sockets) s.destroy(); }, this.deps.closeGraceMs ?? 2000).unref();
    });
    app.addHook('onClose', async () => { await this.#auth.close(); });
  }

  /** The address fastify reported, with the scheme this listener really speaks. */
  url(address: string): string {
    return this.tls ? address.replace(/^http:/, 'https:') : address;
  }

  /** Settings from a reloaded vigil.yaml; returns what could not change without a restart. */
  apply(next: ListenerSettings): string[] {
    const later: string[] = [];
    for (const s of this.#servers) this.#tune(s, next);
    if (next.headersTimeoutMs !== this.#settings.headersTimeoutMs && this.tls) later.push('the TLS handshake timeout (headers_timeout)');
    const before = this.#watch?.current();
    const wanted = next.webConfig;
    if (wanted?.file !== before?.file) {
      if (!wanted) {
        if (this.tls) later.push('removing web_config_file from an HTTPS listener');
        else { this.#watch = undefined; this.#bucket = undefined; }
      } else if (!this.#watch) {
        if (wanted.tls) later.push('turning TLS on (web_config_file with tls_server_config)');
        else { this.#watch = this.#watchOf(wanted); this.#bucket = bucketOf(wanted); }
      } else {
        const why = this.#watch.replace(wanted);
        if (why) later.push(why);
      }
    }
    this.#settings = { ...next, webConfig: this.#watch?.current() };
    return later;
  }

  /** For tests and /status: the web config in force. */
  webConfig(): WebConfig | undefined {
    return this.#watch?.current();
  }

  #watchOf(initial: WebConfig): WebConfigWatch {
    return new WebConfigWatch(initial, {
      listener: this.deps.name,
      logger: this.deps.logger,
      compatible: (next) => this.#incompatible(next),
      onChange: (next) => {
        if (next.tls) for (const s of this.#servers) if (s instanceof https.Server) applyTls(s, next.tls);
        this.#bucket = bucketOf(next);
      },
      onResult: (ok, at) => {
        this.deps.metrics.webConfigOk.set(this.#labels, ok ? 1 : 0);
        if (ok) this.deps.metrics.webConfigOkTime.set(this.#labels, at / 1000);
      },
    });
  }

  #incompatible(next: WebConfig): string | undefined {
    if ((next.tls !== undefined) !== this.tls) {
      return `tls_server_config was ${next.tls ? 'added' : 'removed'}: turning TLS on or off takes a restart of vigil; until then the listener serves ${this.tls ? 'HTTPS' : 'plain HTTP'} with its last good web config`;
    }
    if (!this.deps.basicAuth && next.users.size > 0) {
      return 'basic_auth_users: the admin API authenticates with its bearer token; drop the users (use client certificates for a second factor)';
    }
    return undefined;
  }

  #createServer(handler: http.RequestListener): AnyServer {
    const s = this.#settings;
    const timeouts = {
      requestTimeout: s.requestTimeoutMs, headersTimeout: s.headersTimeoutMs,
      keepAliveTimeout: s.idleTimeoutMs, connectionsCheckingInterval: checkingInterval(s),
    };
    const tls = this.#watch?.current().tls;
    const server: AnyServer = tls
      // HTTP/1.1 only: `http2: true` in the file is accepted and means nothing here (docs/listeners.md).
      ? https.createServer({ ...timeouts, ...tlsServerOptions(tls), handshakeTimeout: s.headersTimeoutMs, ALPNProtocols: ['http/1.1'] }, handler)
      : http.createServer(timeouts, handler);
    this.#tune(server, s);
    // Prepended: before Node wraps the socket in TLS, so a changed certificate or client auth applies to this very connection.
    server.prependListener('connection', (socket: Socket) => {
      this.#watch?.current();
      this.#sockets.add(socket);
      this.deps.metrics.connections.set(this.#labels, this.#sockets.size);
      socket.once('close', () => {
        this.#sockets.delete(socket);
        this.deps.metrics.connections.set(this.#labels, this.#sockets.size);
      });
    });
    // Past max_connections Node closes a new connection at once: its file descriptor is not held.
    server.on('drop', () => this.deps.metrics.dropped.inc(this.#labels));
    if (server instanceof https.Server) {
      server.prependListener('secureConnection', (socket: TLSSocket) => {
        const t = this.#watch?.current().tls;
        const problem = t ? clientCertProblem(socket, t) : undefined;
        if (!problem) return;
        this.deps.metrics.tlsFailures.inc(this.#labels);
        this.deps.logger.debug({ listener: this.deps.name, remote: socket.remoteAddress, problem }, 'TLS connection closed: client certificate refused');
        socket.destroy();
      });
      server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
        this.deps.metrics.tlsFailures.inc(this.#labels);
        this.deps.logger.debug({ listener: this.deps.name, remote: socket.remoteAddress, err: err.code ?? err.message }, 'TLS handshake failed');
      });
    }
    this.#servers.add(server);
    server.once('close', () => this.#servers.delete(server));
    return server;
  }

  #tune(server: AnyServer, s: ListenerSettings): void {
    server.maxConnections = s.maxConnections;
    server.requestTimeout = s.requestTimeoutMs;
    server.headersTimeout = s.headersTimeoutMs;
    server.keepAliveTimeout = s.idleTimeoutMs;
  }

  async #guard(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const cfg = this.#watch?.current();
    if (cfg) for (const [name, value] of Object.entries(cfg.headers)) reply.header(name, value);
    if (!hostAllowed(this.#settings.allowedHosts, req.headers.host)) return this.#refuse(reply, 'host_not_allowed');
    if (this.#bucket && !this.#bucket.take()) {
      return this.#refuse(reply, 'rate_limited', { 'retry-after': String(Math.max(1, Math.ceil(this.#bucket.intervalMs / 1000))) });
    }
    if (cfg && cfg.users.size > 0) {
      const verdict = await this.#auth.check(cfg.users, req.headers.authorization);
      if (verdict === 'busy') return this.#refuse(reply, 'auth_busy', { 'retry-after': '1' });
      if (verdict === 'unavailable') return this.#refuse(reply, 'auth_unavailable', { 'retry-after': '1' });
      if (verdict === 'denied') return this.#refuse(reply, 'unauthorized', { 'www-authenticate': 'Basic realm="vigil", charset="UTF-8"' });
    }
    return undefined;
  }

  #refuse(reply: FastifyReply, reason: RefusalReason, headers?: Record<string, string>): FastifyReply {
    this.#refused(reason);
    return refuse(reply, reason, headers);
  }

  #refused(reason: RefusalReason): void {
    this.deps.metrics.refused.inc({ ...this.#labels, reason });
  }
}
