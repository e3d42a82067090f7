export { Transport, type TransportHandler, type TransportOptions } from "./transport.js";
