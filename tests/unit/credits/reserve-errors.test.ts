/**
 * How reserve() tells a second reserve (Postgres' unique_violation, 23505) from any other failure,
 * whatever shape the driver gives the error: an Error or a plain object, with the code on it or on
 * a `cause` further down. A database that throws the given error stands in for the drivers.
 * (tests/integration/credits/ledger.test.ts runs the real duplicates on PGlite and Postgres.)
 */
import { describe, expect, it } from "vitest";
import { AlreadyReservedError, reserve } from "@/lib/credits";
import type { DbExecutor } from "@/lib/db";

function failingDb(error: unknown): DbExecutor {
  return { execute: () => Promise.reject(error) } as unknown as DbExecutor;
}

const input = { userId: "u1", cost: 1, generationId: "0f0e0d0c-0b0a-4908-8706-050403020100" };

describe("reserve: which database errors mean 'already reserved'", () => {
  it.each<[string, unknown]>([
    ["an Error with code 23505", Object.assign(new Error("duplicate key"), { code: "23505" })],
    ["a plain object with code 23505", { code: "23505", message: "duplicate key" }],
    [
      "an Error wrapping one with code 23505",
      new Error("query failed", { cause: Object.assign(new Error("duplicate key"), { code: "23505" }) }),
    ],
    [
      "an Error wrapping a plain object with code 23505",
      new Error("query failed", { cause: { code: "23505" } }),
    ],
  ])("%s → AlreadyReservedError", async (_, error) => {
    const thrown = await reserve(failingDb(error), input).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(AlreadyReservedError);
    expect(thrown).toMatchObject({ generationId: input.generationId });
  });

  it.each<[string, unknown]>([
    ["an Error with another code", Object.assign(new Error("fk"), { code: "23503" })],
    ["an Error without a code", new Error("connection lost")],
    ["a plain object with another code", { code: "23503" }],
    ["an Error whose cause is null", new Error("query failed", { cause: null })],
    ["an Error whose cause has another code", new Error("query failed", { cause: { code: "23503" } })],
    ["a string", "boom"],
    ["null", null],
  ])("%s → passed on as it is", async (_, error) => {
    await expect(reserve(failingDb(error), input)).rejects.toBe(error);
  });
});
