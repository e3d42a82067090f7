// The etcd client as the store and the election use it: endpoints and TLS checked up front, a
// deadline on every call, which failures are worth retrying, and one log line when etcd stops
// answering (and one when it answers again) instead of one per failed call.
import { readFileSync } from "node:fs";
import { ConsecutiveBreaker, circuitBreaker, handleWhen } from "cockatiel";
import { Etcd3, GRPCCancelledError, GRPCDeadlineExceededError, GRPCInternalError, GRPCUnavailableError, isRecoverableError, type IOptions } from "etcd3";

export interface EtcdTls {
  /** PEM file of the CA that signed etcd's server certificates. */
  caFile?: string;
  /** PEM files of this manager's client certificate and key, for etcd's --client-cert-auth. */
  certFile?: string;
  keyFile?: string;
}

export interface EtcdEndpoints {
  /** http:// or https:// URLs of etcd members; any one that answers is used. */
  endpoints: string[];
  tls?: EtcdTls;
}

/** Opens a client; throws one line if the endpoints or TLS files are wrong (nothing is dialled yet). */
export function connectEtcd(o: EtcdEndpoints): Etcd3 {
  if (o.endpoints.length === 0) throw new Error("no etcd endpoints: give --etcd-endpoints http://HOST:2379,...");
  for (const e of o.endpoints) {
    if (!/^https?:\/\/[^/]+(:\d+)?\/?$/.test(e)) throw new Error(`etcd endpoint "${e}" is not a URL such as http://10.0.0.5:2379 or https://etcd1:2379`);
  }
  const secure = o.endpoints.filter((e) => e.startsWith("https://")).length;
  if (secure > 0 && secure < o.endpoints.length) throw new Error("etcd endpoints mix http:// and https://: use one scheme for all");
  const options: IOptions = {
    hosts: o.endpoints.map((e) => e.replace(/\/$/, "")),
    grpcOptions: {
      // Pings find a dead connection (a member gone without a FIN); etcd refuses pings more often than every 5 s.
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 5000,
      // gRPC's reconnect backoff grows to 2 minutes while a member is down; a manager should be
      // back within a second of etcd.
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1000,
    },
    faultHandling: {
      // etcd3 skips an endpoint for 5 s after 3 failures in a row. While etcd elects a leader every
      // endpoint fails for a moment, and 5 s is longer than the election: skip for half a second.
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 500, breaker: new ConsecutiveBreaker(3) }),
    },
  };
  const tls = o.tls ?? {};
  if (tls.certFile || tls.keyFile || tls.caFile) {
    if (!!tls.certFile !== !!tls.keyFile) throw new Error("etcd TLS: give both --etcd-cert and --etcd-key, or neither");
    if (secure === 0) throw new Error("etcd TLS files were given but the endpoints are http://: use https:// endpoints");
    options.credentials = {
      // Without a CA file, the system's roots (etcd3's type asks for a Buffer; gRPC takes none).
      rootCertificate: tls.caFile ? readPem(tls.caFile, "--etcd-ca") : (undefined as unknown as Buffer),
      certChain: tls.certFile ? readPem(tls.certFile, "--etcd-cert") : undefined,
      privateKey: tls.keyFile ? readPem(tls.keyFile, "--etcd-key") : undefined,
    };
  }
  return new Etcd3(options);
}

function readPem(file: string | undefined, flag: string): Buffer {
  if (!file) return Buffer.alloc(0);
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`etcd TLS: cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * Default deadline of one etcd call. Short on purpose: while etcd elects a leader, a request sent
 * to a follower waits for its deadline rather than failing, so a long deadline is a long stall;
 * a short one fails fast and the retry lands on the new leader. Raise it for a distant etcd.
 */
export const CALL_TIMEOUT_MS = 1000;

/** Options for one etcd call: a deadline `ms` from now, or `until` if that is sooner. */
export function within(ms: number, until = Infinity): { deadline: number } {
  return { deadline: Math.min(Date.now() + ms, until) };
}

const TRANSIENT_ETCD = /etcdserver: (leader changed|request timed out|no leader|too many requests|not capable|unhealthy cluster|server stopped)/;

/** A failure that may pass by itself: etcd unreachable, slow, or between leaders. */
export function isTransient(err: unknown): boolean {
  if (err instanceof GRPCUnavailableError || err instanceof GRPCDeadlineExceededError || err instanceof GRPCCancelledError || err instanceof GRPCInternalError) return true;
  // cockatiel's open circuit: every endpoint failed recently, so the pool tries none for a while.
  if ((err as Error)?.constructor?.name === "BrokenCircuitError") return true;
  // Streams hand over gRPC's own errors, not the etcd3 package's classes.
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "number" && [1, 4, 13, 14].includes(code)) return true;
  const msg = String((err as Error)?.message ?? "");
  return TRANSIENT_ETCD.test(msg) || /UNAVAILABLE|DEADLINE_EXCEEDED|ECONNREFUSED|ECONNRESET|stream ended/.test(msg);
}

/** The first line of an error, without gRPC's code prefix: what a log line says about it. */
export function reasonOf(err: unknown): string {
  const msg = String((err as Error)?.message ?? err).split("\n")[0];
  if (/DEADLINE_EXCEEDED|Deadline exceeded/.test(msg)) return "no answer before the deadline";
  if (/alert bad certificate|alert certificate required|alert unknown ca/.test(msg)) return "etcd refused this manager's client certificate: give --etcd-cert and --etcd-key signed by a CA etcd trusts";
  if (/certificate verify failed|unable to get local issuer|self.signed certificate|unable to verify/i.test(msg)) return "etcd's certificate is not signed by the CA given (--etcd-ca)";
  return msg.replace(/^\d+ [A-Z_]+: /, "").replace(/ \(\d{4}-\d\d-\d\dT[^)]*\)$/, "");
}

/**
 * Logs once when etcd stops answering and once when it answers again. A failure within a second of
 * a success is not "down": with one member dead, calls that picked it fail while others pass.
 */
export class Reachability {
  private down = false;
  private lastOk = 0;

  constructor(
    private readonly what: string,
    private readonly endpoints: string[],
    private readonly log: (line: string) => void,
  ) {}

  failed(err: unknown): void {
    if (this.down || Date.now() - this.lastOk < 1000) return;
    this.down = true;
    this.log(`${this.what}: cannot reach etcd at ${this.endpoints.join(",")} (${reasonOf(err)}); retrying until it answers`);
  }

  ok(): void {
    this.lastOk = Date.now();
    if (!this.down) return;
    this.down = false;
    this.log(`${this.what}: etcd answers again`);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Backoff between retries: 50 ms doubling to 1 s. */
export function backoff(attempt: number): number {
  return Math.min(1000, 50 * 2 ** attempt);
}

/** Ends a gRPC stream of ours. Half-closing first matters: the etcd3 pool counts an error on a
 * still-writable stream as the endpoint failing, and our own cancel is not that. */
export function endStream(s: { end(): void; cancel?(): void }): void {
  try {
    s.end();
    s.cancel?.();
  } catch {
    // already ended
  }
}
