// The store contract, unchanged, against the etcd backend on a real 3-member etcd cluster.
import { storeContract } from "../../unit/store/contract.js";
import { etcdHarness } from "./harness.js";

const h = etcdHarness();
storeContract("etcd (3 members)", async () => (await h.open()).store);
