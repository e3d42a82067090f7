// The image store's public face: see store.ts for the API.
export { ImageStore, type ImageStoreOptions, type ResolvedImage } from "./store.js";
export type { ImageSummary, ContainerDefaults } from "./image.js";
export type { Credentials } from "./auth.js";
export type { Progress } from "./context.js";
export { parseReference, familiarString, type Reference } from "./reference.js";
