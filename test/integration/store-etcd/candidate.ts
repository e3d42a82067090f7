// A manager's etcd backend as its own process, so a test or bench can kill -9 it: campaigns on
// ENDPOINTS under PREFIX as ADDR and prints "leading" / "following" as that changes.
// Usage: node dist/test/integration/store-etcd/candidate.js ENDPOINTS PREFIX ADDR
import { EtcdBackend } from "../../../manager/store/etcd/backend.js";

const [endpoints, prefix, addr] = process.argv.slice(2);
const backend = new EtcdBackend({ endpoints: endpoints.split(","), prefix, addr, log: (l) => console.error(l) });
backend.onLeadership((leading) => console.log(leading ? "leading" : "following"));
await backend.start();
console.log("ready");
process.on("SIGTERM", () => void backend.stop().then(() => process.exit(0)));
