export * from "./codes";
export * from "./createTask";
export * from "./dto";
export * from "./errors";
export * from "./KieClient";
export * from "./provider";
export * from "./retry";
export * from "./sanitize";
export type { KieTransportOptions } from "./transport";
export * from "./types";
export {
  toUploadedFile,
  type UploadedFile,
  type UploadFileInput,
  type UploadOptions,
} from "./uploads";
