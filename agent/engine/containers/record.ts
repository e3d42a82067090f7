// What the daemon persists about one container (data-root/containers/ID/container.json).
import type { ContainerConfig } from "../../../proto/gen/engine.js";

export type ContainerStatus = "created" | "running" | "restarting" | "exited" | "dead";

export interface ContainerState {
  status: ContainerStatus;
  pid: number;
  shimPid: number;
  exitCode: number;
  oomKilled: boolean;
  startedAt: string; // ISO time; "" before the first start
  finishedAt: string;
  error: string;
}

export interface NetworkAttachment {
  ip: string;
  gateway: string;
  prefix: number;
  netnsPath: string;
  /** For its resolv.conf when other networks (a swarm's overlays) serve its names; else the host's. */
  nameservers?: string[];
}

export interface ContainerRecord {
  id: string;
  name: string;
  created: string;
  image: string; // as the user named it
  imageId: string;
  config: ContainerConfig;
  /** The process, after merging the image's config with the user's. */
  process: { args: string[]; env: string[]; cwd: string; user: string; hostname: string };
  layerDirs: string[]; // overlay lowerdirs, lowest first
  state: ContainerState;
  restartCount: number;
  /** Set by stop/kill from the user: no policy restarts it (and unless-stopped stays down). */
  stoppedByUser: boolean;
  network: NetworkAttachment | null;
}

export const freshState = (): ContainerState => ({
  status: "created",
  pid: 0,
  shimPid: 0,
  exitCode: 0,
  oomKilled: false,
  startedAt: "",
  finishedAt: "",
  error: "",
});
