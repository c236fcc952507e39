import { describe, expect, it } from "vitest";
import { cycles, directionProblems, moduleGraph } from "@/scripts/check-imports";

describe("import-direction check (npm run lint)", () => {
  it("flags an import against the layers, and allows the same import downwards", () => {
    const graph = new Map([
      ["lib/db/schema.ts", ["lib/generation/settle.ts"]],
      ["lib/generation/settle.ts", ["lib/db/schema.ts"]],
      ["sim/server.ts", ["lib/kie/dto.ts"]],
    ]);
    expect(directionProblems(graph)).toEqual([
      "lib/db/schema.ts → lib/generation/settle.ts",
      "sim/server.ts → lib/kie/dto.ts",
    ]);
  });

  it("finds a cycle between files and between modules", () => {
    const files = new Map([
      ["lib/a/x.ts", ["lib/b/y.ts"]],
      ["lib/b/y.ts", ["lib/a/z.ts"]],
      ["lib/a/z.ts", []],
    ]);
    expect(cycles(files)).toEqual([]);
    expect(cycles(moduleGraph(files))).toEqual(["cycle: lib/a/ → lib/b/ → lib/a/"]);
    files.set("lib/a/z.ts", ["lib/a/x.ts"]);
    expect(cycles(files)).toEqual(["cycle: lib/a/x.ts → lib/b/y.ts → lib/a/z.ts → lib/a/x.ts"]);
  });
});
