// The store over TLS, as an operator's etcd with --client-cert-auth runs: with the CA and a
// client certificate it works; without the client certificate etcd refuses, and the store says so.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Reachability, connectEtcd } from "../../../manager/store/etcd/client.js";
import { KeyLayout } from "../../../manager/store/etcd/keys.js";
import { EtcdStore } from "../../../manager/store/etcd/store.js";
import { EtcdCluster } from "../../support/etcd.js";
import { service, until } from "./harness.js";

const dir = mkdtempSync(join(tmpdir(), "shoal-etcd-tls-"));
const pem = (name: string) => join(dir, name);
let cluster: EtcdCluster | undefined;

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
function makeCerts(): void {
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=shoal-test-ca", "-keyout", "ca-key.pem", "-out", "ca.pem");
  for (const [name, ext] of [
    ["server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth"],
    ["client", "extendedKeyUsage=clientAuth"],
  ]) {
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${name}`, "-keyout", `${name}-key.pem`, "-out", `${name}.csr`);
    execFileSync("sh", ["-c", `printf '${ext}\\n' > ${name}.ext`], { cwd: dir });
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-days", "1", "-extfile", `${name}.ext`, "-out", `${name}.pem`);
  }
}

beforeAll(async () => {
  makeCerts();
  cluster = await EtcdCluster.start({ size: 1, tls: { caFile: pem("ca.pem"), certFile: pem("server.pem"), keyFile: pem("server-key.pem") } });
});
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("etcd store over TLS", () => {
  it("works with the CA and a client certificate", async () => {
    const endpoints = cluster!.endpoints;
    expect(endpoints[0]).toMatch(/^https:/);
    const client = connectEtcd({ endpoints, tls: { caFile: pem("ca.pem"), certFile: pem("client.pem"), keyFile: pem("client-key.pem") } });
    const s = new EtcdStore({ client, keys: new KeyLayout("/tls/"), reach: new Reachability("store", endpoints, () => undefined), log: () => undefined });
    await s.start();
    await s.store.update((tx) => tx.create("service", service("web")));
    expect(s.store.view((tx) => tx.find("service").length)).toBe(1);
    s.stop();
    client.close();
  });

  it("says why when etcd refuses a client without a certificate", async () => {
    const endpoints = cluster!.endpoints;
    const lines: string[] = [];
    const client = connectEtcd({ endpoints, tls: { caFile: pem("ca.pem") } });
    const s = new EtcdStore({ client, keys: new KeyLayout("/tls/"), reach: new Reachability("store", endpoints, (l) => lines.push(l)), log: (l) => lines.push(l) });
    void s.start().catch(() => undefined);
    await until(() => lines.length > 0, "the store says what is wrong");
    expect(lines[0]).toMatch(/^store: cannot reach etcd at https:\/\/127\.0\.0\.1:\d+ \(etcd refused this manager's client certificate: .+\); retrying until it answers$/);
    s.stop();
    client.close();
  });
});
