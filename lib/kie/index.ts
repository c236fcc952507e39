export * from "./dto";
export * from "./errors";
export * from "./KieClient";
export * from "./retry";
export type { KieTransportOptions } from "./transport";
export * from "./types";
export type { UploadFileInput, UploadOptions } from "./uploads";
