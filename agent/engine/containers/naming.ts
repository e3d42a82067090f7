// Container ids (64 hex, shown as 12) and generated names (adjective_noun, as docker does).
import { randomBytes, randomInt } from "node:crypto";

export const newContainerId = (): string => randomBytes(32).toString("hex");

const ADJECTIVES = ["brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nifty", "proud", "quiet", "sharp", "swift", "tender", "vivid", "wise", "zen", "bold"];
const NOUNS = ["anchovy", "barracuda", "carp", "dolphin", "eel", "flounder", "grouper", "herring", "koi", "marlin", "minnow", "perch", "pike", "salmon", "sardine", "shark", "sprat", "trout", "tuna", "wrasse"];

export function generateName(taken: (n: string) => boolean): string {
  for (let i = 0; ; i++) {
    const n = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NOUNS[randomInt(NOUNS.length)]}${i > 10 ? randomInt(100) : ""}`;
    if (!taken(n)) return n;
  }
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
export const validName = (n: string): boolean => NAME.test(n) && n.length <= 128;
