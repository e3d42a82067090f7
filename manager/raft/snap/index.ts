export { Snapshotter } from "./snapshotter.js";
