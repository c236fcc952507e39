export * from "./dto";
export * from "./errors";
export * from "./KieClient";
export * from "./retry";
