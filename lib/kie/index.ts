export * from "./dto";
export * from "./errors";
export * from "./KieClient";
export * from "./models";
export * from "./retry";
