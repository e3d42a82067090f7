// Keeps a node's certificate fresh: at the renewal time (renewal.ts), or at once when its role
// changes, it makes a new key, has a manager sign a CSR for it, and swaps it into the node's
// certificates, which every server and channel built on them picks up for new handshakes.
import type { NodeRole } from "../../proto/gen/cluster.js";
import type { NodeCertificates } from "./certificates.js";
import { createNodeKey } from "./csr.js";
import { renewalDue, renewalTime, retryDelay } from "./renewal.js";

export interface RenewerOptions {
  certs: NodeCertificates;
  /** Has a manager sign the CSR (the node's current certificate authenticates the call). */
  request: (csrPem: string) => Promise<{ certPem: string; rootCaPem?: string }>;
  /** The role the store wants this node to have, as its session last said; undefined if unknown. */
  desiredRole?: () => NodeRole | undefined;
  /** Persists the new material (NodeCertificates.save) before it is used. */
  save?: (certs: NodeCertificates) => void;
  log?: (line: string) => void;
  random?: () => number;
  now?: () => number;
}

/** setTimeout takes at most 2^31-1 ms; a 90-day wait is taken in steps. */
const MAX_WAIT_MS = 3600_000;

export class CertificateRenewer {
  private timer?: NodeJS.Timeout;
  private renewAt = 0;
  /** No attempt before this, after a failure or a renewal that did not bring the desired role yet. */
  private holdUntil = 0;
  private failures = 0;
  private running?: Promise<void>;
  private stopped = true;
  private readonly now: () => number;

  constructor(private readonly o: RenewerOptions) {
    this.now = o.now ?? Date.now;
  }

  start(): void {
    this.stopped = false;
    this.renewAt = renewalTime(this.o.certs.certificate, (this.o.random ?? Math.random)());
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Looks again now, e.g. when the session reports a new desired role. */
  poke(): void {
    if (!this.stopped) this.schedule();
  }

  /** Renews now (also what the timer runs); concurrent callers share one attempt. */
  renewNow(): Promise<void> {
    this.running ??= this.renew().finally(() => (this.running = undefined));
    return this.running;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const cert = this.o.certs.certificate;
    const now = this.now();
    const due = renewalDue(cert, this.renewAt, now, this.o.desiredRole?.());
    const until = due ? Math.max(0, this.holdUntil - now) : this.renewAt - now;
    this.timer = setTimeout(() => {
      if (until > MAX_WAIT_MS) return this.schedule();
      void this.renewNow().then(
        () => this.schedule(),
        () => this.schedule(),
      );
    }, Math.min(until, MAX_WAIT_MS));
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    const certs = this.o.certs;
    try {
      const { keyPem, csrPem } = await createNodeKey();
      const signed = await this.o.request(csrPem);
      await certs.update({ rootCaPem: signed.rootCaPem ?? certs.rootCaPem, certPem: signed.certPem, keyPem });
      this.o.save?.(certs);
      const desired = this.o.desiredRole?.();
      this.failures = desired !== undefined && desired !== certs.identity.role ? this.failures + 1 : 0;
      this.holdUntil = this.failures ? this.now() + retryDelay(this.failures, certs.certificate.notAfter - certs.certificate.notBefore) : 0;
      this.renewAt = renewalTime(certs.certificate, (this.o.random ?? Math.random)());
      this.o.log?.(`ca: certificate renewed, valid until ${new Date(certs.certificate.notAfter).toISOString()}`);
    } catch (err) {
      this.failures++;
      const cert = certs.certificate;
      this.holdUntil = this.now() + retryDelay(this.failures, cert.notAfter - cert.notBefore);
      this.renewAt = Math.max(this.renewAt, this.holdUntil);
      this.o.log?.(`ca: certificate renewal failed (${(err as Error).message}); trying again at ${new Date(this.holdUntil).toISOString()}`);
      throw err;
    }
  }
}
