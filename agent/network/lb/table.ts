// The node's overlay table: whether it is loaded, and removing it. (Loading is one `nft -f` of
// renderTable's script: old rules out and new ones in, atomically.)
import { run } from "../cmd.js";

export const tableExists = (table: string): Promise<boolean> =>
  run("nft", ["list", "table", "ip", table]).then(
    () => true,
    () => false,
  );

export const removeTable = async (table: string): Promise<void> => void (await run("nft", ["delete", "table", "ip", table]).catch(() => undefined));
