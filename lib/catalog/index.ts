export * from "./choice";
export * from "./models";
export * from "./prices";
export * from "./request";
export * from "./view";
