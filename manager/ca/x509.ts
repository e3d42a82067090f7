// The X.509 library, set up once: @peculiar/x509 needs reflect-metadata loaded before it and a
// WebCrypto provider (Node's). Every other file of the CA takes x509 from here.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

// Its types name the DOM's Crypto, which this Node-only build does not declare: Node's is the same API.
x509.cryptoProvider.set(webcrypto as never);

export { x509 };
export const subtle = webcrypto.subtle;

/** Every key of the cluster, root and nodes: ECDSA on P-256, signing with SHA-256. */
export const EC_P256 = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export type KeyPair = webcrypto.CryptoKeyPair;
export type PrivateKey = webcrypto.CryptoKey;

export async function generateKeyPair(): Promise<KeyPair> {
  return subtle.generateKey(EC_P256, true, ["sign", "verify"]) as Promise<KeyPair>;
}

export async function exportPrivateKey(key: PrivateKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey("pkcs8", key));
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

/** A PKCS#8 PEM private key (P-256), as exportPrivateKey wrote it. */
export async function importPrivateKey(pem: string): Promise<PrivateKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return subtle.importKey("pkcs8", der, EC_P256, true, ["sign"]);
}
