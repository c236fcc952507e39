/**
 * GET /api/openapi.json: an OpenAPI 3.1 document of the public API, generated from the zod
 * schemas that validate the requests (lib/catalog, lib/auth, lib/http) and the answer schemas in
 * ./schemas.ts. Never written by hand: a route missing here fails tests/unit/http/openapi.test.ts.
 */
import { z } from "zod";
import { PUBLIC_ERRORS } from "../errors";
import { type Access, OPERATIONS, type OperationSpec } from "./operations";
import * as answers from "./schemas";

function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" });
  return rest;
}

const SECURITY: Record<Access, unknown[] | undefined> = {
  public: [],
  user: [{ bearer: [] }, { session: [] }],
  admin: [{ bearer: [] }, { session: [] }],
  secret: undefined,
};

function operationObject(op: OperationSpec) {
  const responses: Record<string, unknown> = {};
  for (const [status, spec] of Object.entries(op.responses)) {
    responses[status] = {
      description: spec.description,
      ...(spec.headers && {
        headers: Object.fromEntries(
          Object.entries(spec.headers).map(([name, description]) => [
            name,
            { description, schema: { type: "string" } },
          ]),
        ),
      }),
      ...((spec.json || spec.content) && {
        content: {
          ...(spec.json && { "application/json": { schema: jsonSchema(spec.json, "output") } }),
          ...(spec.content && { [spec.content]: { schema: { type: "string", format: "binary" } } }),
        },
      }),
    };
  }
  for (const code of op.errors ?? []) {
    const status = String(PUBLIC_ERRORS[code].status);
    const existing = responses[status] as { description: string } | undefined;
    responses[status] = {
      description: existing ? `${existing.description} / ${code}` : code,
      content: { "application/json": { schema: jsonSchema(answers.errorSchema, "output") } },
    };
  }
  responses.default = {
    description: "Any other error (DESIGN.md §3 error shape).",
    content: { "application/json": { schema: jsonSchema(answers.errorSchema, "output") } },
  };
  const content: Record<string, unknown> = {};
  if (op.body?.json) content["application/json"] = { schema: jsonSchema(op.body.json, "input") };
  if (op.body?.multipart) content["multipart/form-data"] = { schema: jsonSchema(op.body.multipart, "input") };
  return {
    operationId: `${op.method}${op.path.replace(/[^a-zA-Z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ""))}`,
    summary: op.summary,
    ...(SECURITY[op.access] && { security: SECURITY[op.access] }),
    ...(op.parameters && {
      parameters: Object.entries(op.parameters).map(([name, p]) => ({
        name,
        in: p.in,
        required: p.required ?? false,
        description: p.description,
        schema: jsonSchema(p.schema, "input"),
      })),
    }),
    ...(op.body && { requestBody: { required: op.body.required ?? false, content } }),
    responses,
  };
}

let cached: Record<string, unknown> | undefined;

export function openApiDocument(): Record<string, unknown> {
  if (cached) return cached;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    paths[op.path] ??= {};
    (paths[op.path] as Record<string, unknown>)[op.method] = operationObject(op);
  }
  cached = {
    openapi: "3.1.0",
    info: {
      title: "Nano Banana Studio API",
      version: "1.0.0",
      description:
        "Generate and edit images with KIE's Nano Banana models, behind sign-in and per-user credits. " +
        "Every answer carries X-Request-Id; every error has the shape of the Error schema.",
    },
    servers: [{ url: "/" }],
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description:
            "A Supabase (or dev sign-in) access token, or a personal API key `nbk_…` (POST /api/keys).",
        },
        session: { type: "apiKey", in: "cookie", name: "nb_session" },
      },
    },
    paths,
  };
  return cached;
}
