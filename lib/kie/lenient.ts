/**
 * Lenient readers for KIE's answers (kie-api.md says "tolerate" often): a field we do not depend
 * on that KIE sends oddly becomes undefined instead of failing the whole parse.
 */
import { z } from "zod";

/** A value that must not fail the whole parse when KIE sends something odd: it becomes undefined. */
export const lenient = <T extends z.ZodType>(schema: T) => schema.optional().catch(undefined);

export const lenientString = lenient(z.string());
/** Epoch ms or any other number KIE may send as a number or a numeric string. */
export const lenientNumber = lenient(
  z
    .union([
      z.number(),
      z
        .string()
        .regex(/^-?\d+(\.\d+)?$/)
        .transform(Number),
    ])
    .nullable(),
).transform((v) => v ?? undefined);

/** KIE's codes: numbers, tolerated as numeric strings. */
export const codeSchema = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]);

/** An absolute http(s) URL as a string. */
export const httpUrlString = z.string().regex(/^https?:\/\//i);

export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

export function nonEmpty(value: unknown): string | undefined {
  if (typeof value === "number") return String(value);
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}
