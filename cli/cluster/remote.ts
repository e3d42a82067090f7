// A remote CLI's TLS, as docker's --tlsverify client: the swarm's root, a client certificate and
// its key, from the flags or from $SHOAL_CERT_PATH (ca.pem, cert.pem, key.pem), for mutual TLS to
// a manager's cluster port. The manager must present a manager's certificate under that root.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { clientChannel, type ClusterChannel } from "../../manager/ca/credentials.js";
import { keyMatches } from "../../manager/ca/root-ca.js";
import { CliError } from "../errors.js";

export interface TlsFlags {
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** The files to use: each flag, else its file in $SHOAL_CERT_PATH; refused if any is missing. */
export function tlsFiles(host: string, o: TlsFlags, env: NodeJS.ProcessEnv = process.env): TlsFiles {
  const dir = env.SHOAL_CERT_PATH;
  const pick = (flag: string | undefined, file: string) => flag || (dir ? join(dir, file) : undefined);
  const files = { ca: pick(o.tlscacert, "ca.pem"), cert: pick(o.tlscert, "cert.pem"), key: pick(o.tlskey, "key.pem") };
  const missing = [!files.ca && "--tlscacert", !files.cert && "--tlscert", !files.key && "--tlskey"].filter(Boolean);
  if (missing.length)
    throw new CliError(
      `${host} needs a client certificate (missing ${missing.join(", ")}): give --tlscacert, --tlscert and --tlskey, or set SHOAL_CERT_PATH to a directory holding ca.pem, cert.pem and key.pem (made by "shoal swarm ca --client-cert NAME --out DIR" on a manager)`,
    );
  return files as TlsFiles;
}

function read(what: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new CliError(`cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The channel the files make; refused here if the key is not the certificate's. */
export function remoteChannel(files: TlsFiles): ClusterChannel {
  const tls = { rootCaPem: read("CA certificate", files.ca), certPem: read("client certificate", files.cert), keyPem: read("client key", files.key) };
  let matches: boolean;
  try {
    matches = keyMatches(tls.certPem, tls.keyPem);
  } catch (err) {
    throw new CliError(`${files.cert} is not a certificate: ${(err as Error).message.split("\n")[0]}`);
  }
  if (!matches) throw new CliError(`the key ${files.key} does not belong to the certificate ${files.cert}: give the pair "shoal swarm ca --client-cert" made`);
  try {
    return clientChannel(tls);
  } catch (err) {
    throw new CliError(`cannot use ${files.ca}, ${files.cert} and ${files.key} for TLS: ${(err as Error).message.split("\n")[0]}`);
  }
}
