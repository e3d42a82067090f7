// `swarm ca --client-cert NAME --out DIR`: an admin client's key, made here and never sent or
// printed, its certificate signed by the swarm's leader, and the swarm's root: DIR/key.pem
// (0600), cert.pem and ca.pem, as docker's client certificates, for `-H tcp://MANAGER:2377`.
import { existsSync, mkdirSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createNodeKey } from "../../manager/ca/csr.js";
import { readCertificate } from "../../manager/ca/root-ca.js";
import { call, CliError } from "../client.js";
import type { Cluster } from "./connect.js";

const FILES = ["ca.pem", "cert.pem", "key.pem"] as const;

/** Issues and writes the certificate into `dir` (absolute); returns what to tell the user. */
export async function issueClientCertificate(c: Cluster, name: string, dir: string): Promise<string> {
  const paths = FILES.map((f) => join(dir, f));
  const taken = paths.find((p) => existsSync(p));
  if (taken) throw new CliError(`${taken} already exists: give another --out directory (certificates are never overwritten)`);
  const key = await createNodeKey();
  const control = c.control();
  const res = await call(control, control.issueClientCertificate, { csr: key.csrPem, name });
  const addr = c.remote ?? (await call(c.swarm(), c.swarm().info, {})).nodeAddr;
  writeAll(dir, [res.rootCa, res.certificate, key.keyPem], paths);
  const until = new Date(readCertificate(res.certificate).notAfter).toISOString();
  return (
    `Admin client certificate "${name}" written to ${dir} (ca.pem, cert.pem, key.pem), valid until ${until}.\n` +
    "Keep key.pem secret: whoever holds it may run the swarm's cluster commands until it expires.\n\n" +
    "To use it from another machine, copy the directory there and run, for example:\n\n" +
    `    shoal -H tcp://${addr} --tlscacert ${paths[0]} --tlscert ${paths[1]} --tlskey ${paths[2]} service ls\n\n` +
    `or set SHOAL_HOST=tcp://${addr} and SHOAL_CERT_PATH=${dir}.\n`
  );
}

/** Writes each file new (never over one), the key 0600 in a directory made 0700; all or none. */
function writeAll(dir: string, contents: string[], paths: string[]): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  try {
    paths.forEach((p, i) => {
      writeFileSync(p, contents[i], { flag: "wx", mode: p.endsWith("key.pem") ? 0o600 : 0o644 });
      written.push(p);
    });
  } catch (err) {
    for (const p of written) unlinkSync(p);
    throw new CliError(`cannot write the certificate to ${dir}: ${(err as Error).message}`);
  }
}
