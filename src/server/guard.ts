// The one call app.ts and admin.ts make to protect their app: a listener's
// checks when there is a listener, and the refusal of browser-forgeable
// requests always (also for an app only ever inject()ed).
import type { FastifyInstance } from 'fastify';
import { refuseCrossSite, type CrossSiteScope } from './csrf.js';
import type { Listener } from './listener.js';

export function guardApp(app: FastifyInstance, listener: Listener | undefined, crossSite: CrossSiteScope): void {
  if (listener) listener.install(app, crossSite);
  else app.addHook('onRequest', refuseCrossSite(crossSite));
}
