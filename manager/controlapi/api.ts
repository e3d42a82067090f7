// The cluster's Control API over the store: one method per unary RPC of proto/swarm.proto's
// Control service, taking its request and answering its response. Every failure is a
// ControlError (a gRPC code and one line), and a refused call has written nothing.
import type { Cluster, Network, Node, Service } from "../../proto/gen/cluster.js";
import type {
  CreateNetworkRequest,
  CreateServiceRequest,
  Empty,
  IssueClientCertificateRequest,
  IssueClientCertificateResponse,
  JoinTokensRequest,
  JoinTokensResponse,
  ListNetworksResponse,
  ListNodesResponse,
  ListServicesResponse,
  ListTasksRequest,
  ListTasksResponse,
  ObjectRef,
  RemoveNodeRequest,
  UpdateNodeRequest,
  UpdateServiceRequest,
} from "../../proto/gen/swarm.js";
import { ClusterSigner } from "../ca/signer.js";
import { ConflictError, NameConflictError } from "../store/errors.js";
import type { ReadTx, Store, WriteTx } from "../store/types.js";
import { type ControlError, asControlError, exists } from "./errors.js";
import { issueClientCertificate } from "./client-certs.js";
import { clusterOf, joinTokens } from "./join-tokens.js";
import { createNetwork, listNetworks, networkExists, removeNetwork, resolveNetwork } from "./networks.js";
import { type Reachable, listNodes, readyIsReachable, removeNode, updateNode } from "./nodes.js";
import { resolveNode, resolveService } from "./refs.js";
import { createService, listServices, listTasks, publishesPorts, serviceExists, updateService } from "./services.js";

export interface ControlApiOptions {
  /** Unix ms, for update status times. */
  now?: () => number;
  /** Whether a manager counts towards quorum when a demotion is checked; by default while it is ready. */
  reachable?: Reachable;
  /** What new join tokens pin; by default the cluster id, as `swarm init` makes them. */
  caFingerprint?: (cluster: Cluster) => string;
}

/** Writes the caller gave no version for are retried this often when someone else wrote first. */
const RETRIES = 3;

/** A service write whose checks read other objects: a published port, or networks that may be removed meanwhile. */
const checksOthers = (spec: CreateServiceRequest["spec"]): boolean => publishesPorts(spec) || (spec?.task?.networks.length ?? 0) > 0;

/** Objects answered belong to the store: callers copy before changing them. */
export class ControlApi {
  private readonly now: () => number;
  private readonly reachable: Reachable;
  private readonly fingerprint: (c: Cluster) => string;
  private readonly signer = new ClusterSigner();
  /** The last exclusive write: those checking other objects wait for each other (see write). */
  private exclusive: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    opts: ControlApiOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.reachable = opts.reachable ?? readyIsReachable;
    this.fingerprint = opts.caFingerprint ?? ((c) => c.id);
  }

  getJoinTokens(req: JoinTokensRequest): Promise<JoinTokensResponse> {
    return this.write((tx) => joinTokens(tx, req, this.fingerprint), { retries: RETRIES });
  }

  listNodes(_req: Empty = {}): Promise<ListNodesResponse> {
    return this.read((tx) => ({ nodes: listNodes(tx) }));
  }

  getNode(req: ObjectRef): Promise<Node> {
    return this.read((tx) => resolveNode(tx, req.ref));
  }

  async updateNode(req: UpdateNodeRequest): Promise<Node> {
    // Exclusive: two demotions each leaving a quorum may not leave one together.
    const id = await this.write((tx) => updateNode(tx, req, this.reachable), { exclusive: true });
    return this.read((tx) => resolveNode(tx, id));
  }

  async removeNode(req: RemoveNodeRequest): Promise<Empty> {
    await this.write((tx) => removeNode(tx, req), { retries: RETRIES });
    return {};
  }

  async createService(req: CreateServiceRequest): Promise<Service> {
    let name = "";
    const id = await this.write((tx) => createService(tx, req, (n) => (name = n)), { exclusive: checksOthers(req.spec) }).catch((err: ControlError) => {
      // Taken meanwhile by a write that did not pass through this API.
      throw err.cause instanceof NameConflictError ? exists(serviceExists(name)) : err;
    });
    return this.read((tx) => resolveService(tx, id));
  }

  getService(req: ObjectRef): Promise<Service> {
    return this.read((tx) => resolveService(tx, req.ref));
  }

  listServices(_req: Empty = {}): Promise<ListServicesResponse> {
    return this.read((tx) => ({ services: listServices(tx) }));
  }

  async updateService(req: UpdateServiceRequest): Promise<Service> {
    const id = await this.write((tx) => {
      updateService(tx, req, this.now());
      return resolveService(tx, req.ref).id;
    }, { exclusive: req.rollback || checksOthers(req.spec) });
    return this.read((tx) => resolveService(tx, id));
  }

  /** The orchestrator's reaper marks the service's tasks for removal. */
  async removeService(req: ObjectRef): Promise<Empty> {
    await this.write((tx) => tx.delete("service", resolveService(tx, req.ref).id), { retries: RETRIES });
    return {};
  }

  listTasks(req: ListTasksRequest): Promise<ListTasksResponse> {
    return this.read((tx) => listTasks(tx, req));
  }

  async createNetwork(req: CreateNetworkRequest): Promise<Network> {
    // Exclusive: two networks each checked free of overlaps may not overlap each other.
    const id = await this.write((tx) => createNetwork(tx, req), { exclusive: true }).catch((err: ControlError) => {
      throw err.cause instanceof NameConflictError ? exists(networkExists(req.spec?.annotations?.name ?? "")) : err;
    });
    return this.read((tx) => resolveNetwork(tx, id));
  }

  listNetworks(_req: Empty = {}): Promise<ListNetworksResponse> {
    return this.read((tx) => ({ networks: listNetworks(tx) }));
  }

  getNetwork(req: ObjectRef): Promise<Network> {
    return this.read((tx) => resolveNetwork(tx, req.ref));
  }

  /** Exclusive with service writes: a service attached meanwhile would be left without its network. */
  async removeNetwork(req: ObjectRef): Promise<Empty> {
    await this.write((tx) => removeNetwork(tx, req.ref), { retries: RETRIES, exclusive: true });
    return {};
  }

  /** An admin client's certificate, signed with the root CA in the store (by the leader: followers forward). */
  async issueClientCertificate(req: IssueClientCertificateRequest): Promise<IssueClientCertificateResponse> {
    return issueClientCertificate(this.signer, await this.read(clusterOf), req);
  }

  private async read<T>(fn: (tx: ReadTx) => T): Promise<T> {
    try {
      return this.store.view(fn);
    } catch (err) {
      throw asControlError(err);
    }
  }

  /**
   * One all-or-nothing store transaction, `retries` more times on a version conflict. An
   * `exclusive` one runs after the exclusive ones before it have committed, so what it checked
   * against other objects (a free port, a quorum) still holds when it commits; the rest run at once.
   */
  private write<T>(fn: (tx: WriteTx) => T, o: { retries?: number; exclusive?: boolean } = {}): Promise<T> {
    const commit = async (): Promise<T> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.store.update(fn);
        } catch (err) {
          if (err instanceof ConflictError && attempt < (o.retries ?? 0)) continue;
          throw asControlError(err);
        }
      }
    };
    if (!o.exclusive) return commit();
    const run = this.exclusive.then(commit);
    this.exclusive = run.catch(() => undefined);
    return run;
  }
}
