// Names and constants of the kernel objects an overlay network is made of on one node. Names
// come from the VNI, which is unique in the swarm: one data plane per network namespace (two
// VXLAN devices cannot share a VNI and port there anyway).
import { createHash } from "node:crypto";

export const VXLAN_PORT = 4789;
/** 1500 less the 50 bytes of VXLAN, UDP, IP and inner Ethernet headers. */
export const OVERLAY_MTU = 1450;

export const bridgeName = (vni: number): string => `ov-br-${vni}`;
export const vxlanName = (vni: number): string => `ov-vx-${vni}`;
/** Matches every overlay bridge in nftables rules. */
export const BRIDGE_GLOB = "ov-br-*";

/** Host end of a task's veth on one network: interface names are at most 15 bytes. */
export const hostEndName = (networkId: string, taskId: string): string => "ov" + createHash("sha256").update(`${networkId}/${taskId}`).digest("hex").slice(0, 11);
