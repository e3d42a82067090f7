// `-u USER[:GROUP]` to numeric ids, read from the container's own /etc/passwd and /etc/group
// (the upper dir first, then the image layers from the top), as docker resolves them.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { invalid } from "../errors.js";

export interface Ids {
  uid: number;
  gid: number;
}

/** The file as the container sees it: the topmost layer that has it wins. */
function containerFile(dirsTopFirst: string[], path: string): string {
  for (const d of dirsTopFirst) {
    const f = join(d, path);
    if (existsSync(f)) return readFileSync(f, "utf8");
  }
  return "";
}

const rows = (text: string) => text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(":"));

export function resolveUser(user: string, dirsTopFirst: string[]): Ids {
  if (!user) return { uid: 0, gid: 0 };
  const [u, g] = user.split(":");
  const isNum = (s: string) => /^\d+$/.test(s);
  let uid: number;
  let gid: number | undefined;
  const passwd = isNum(u) && (g === undefined || isNum(g)) ? [] : rows(containerFile(dirsTopFirst, "etc/passwd"));
  if (isNum(u)) {
    uid = Number(u);
    const row = passwd.find((r) => r[2] === u);
    if (row) gid = Number(row[3]);
  } else {
    const row = passwd.find((r) => r[0] === u);
    if (!row) throw invalid(`unable to find user ${u}: no matching entries in the container's /etc/passwd`);
    uid = Number(row[2]);
    gid = Number(row[3]);
  }
  if (g !== undefined) {
    if (isNum(g)) gid = Number(g);
    else {
      const row = rows(containerFile(dirsTopFirst, "etc/group")).find((r) => r[0] === g);
      if (!row) throw invalid(`unable to find group ${g}: no matching entries in the container's /etc/group`);
      gid = Number(row[2]);
    }
  }
  return { uid, gid: gid ?? 0 };
}
