/**
 * The public API's operations (DESIGN.md §3), one entry each: path, access, body schema, success
 * answers and the error codes it can give. document.ts renders them as OpenAPI.
 */
import { z } from "zod";
import { devSignInSchema } from "@/lib/auth";
import { generateFieldsSchema, MAX_IMAGES_PER_REQUEST } from "@/lib/catalog";
import { createApiKeySchema } from "../apiKeys";
import type { PublicErrorCode } from "../errors";
import { taskIdsParamSchema } from "../generationsQuery";
import { kieDebugRequestSchema } from "../kieDebugRequest";
import * as answers from "./schemas";

export type Method = "get" | "post" | "delete";
export type Access = "public" | "user" | "admin" | "secret";

export interface ResponseSpec {
  description: string;
  /** A JSON answer of this shape; and/or `content` for anything else. */
  json?: z.ZodType;
  content?: string;
  headers?: Record<string, string>;
}

export interface Parameter {
  in: "query" | "path";
  schema: z.ZodType;
  required?: boolean;
  description: string;
}

export interface OperationSpec {
  method: Method;
  path: string;
  summary: string;
  access: Access;
  parameters?: Record<string, Parameter>;
  body?: { json?: z.ZodType; multipart?: z.ZodType; required?: boolean };
  /** Success answers by status; errors are listed by code. */
  responses: Record<string, ResponseSpec>;
  errors?: PublicErrorCode[];
}

/** What the MCP SDK answers: JSON-RPC messages (or an SSE stream of them); ours for the HTTP errors. */
const mcpResponses: Record<string, ResponseSpec> = {
  "200": {
    description: "A JSON-RPC answer, or an SSE stream of them.",
    json: answers.jsonRpcSchema,
    content: "text/event-stream",
  },
  "202": { description: "A notification or response accepted (no body)." },
  "400": { description: "A malformed JSON-RPC message.", json: answers.jsonRpcSchema },
  "405": { description: "Not served in stateless mode.", json: answers.jsonRpcSchema },
  "406": {
    description: "The Accept header takes neither JSON nor an SSE stream.",
    json: answers.jsonRpcSchema,
  },
  "415": { description: "Not application/json.", json: answers.jsonRpcSchema },
};

const taskIdParam: Parameter = {
  in: "path",
  schema: z.string().min(1),
  required: true,
  description: "KIE's task id or our job id.",
};

const generateErrors: PublicErrorCode[] = [
  "invalid_request",
  "unauthorized",
  "insufficient_credits",
  "forbidden",
  "idempotency_key_in_progress",
  "idempotency_key_reused",
  "generation_failed",
  "request_timeout",
  "file_too_large",
  "unsupported_media_type",
  "rate_limited",
  "upstream_error",
  "service_unavailable",
  "upstream_timeout",
];

/** multipart/form-data: the JSON fields as text parts, plus file parts named `images`. */
const multipartGenerateSchema = generateFieldsSchema.extend({
  images: z
    .array(z.union([z.string(), z.file()]))
    .max(MAX_IMAGES_PER_REQUEST)
    .optional()
    .meta({ description: "File parts (png, jpeg, webp) or https URLs; 0–5 in all." }),
});

export const OPERATIONS: OperationSpec[] = [
  {
    method: "post",
    path: "/api/generate",
    summary: "Generate or edit an image (Idempotency-Key, Prefer: respond-async | wait)",
    access: "user",
    body: { json: generateFieldsSchema, multipart: multipartGenerateSchema, required: true },
    responses: {
      "200": {
        description: "Sync: the image is ready (n > 1: every job of the batch has ended).",
        json: z.union([answers.generateSucceededSchema, answers.generateBatchSchema]),
      },
      "202": {
        description:
          "Async: the job is accepted (in line for KIE's create budget when queuePosition is given); follow statusUrl. n > 1: the batch, some job still open.",
        json: z.union([answers.generateAcceptedSchema, answers.generateBatchSchema]),
        headers: { Location: "The job's status URL (n > 1: the first job's detail, listing the batch)." },
      },
    },
    errors: generateErrors,
  },
  {
    method: "get",
    path: "/api/generate/{taskId}",
    summary: "A job's status (owner only); Prefer: wait=N holds the answer until it changes",
    access: "user",
    parameters: { taskId: taskIdParam },
    responses: { "200": { description: "The job.", json: answers.taskStatusSchema } },
    errors: ["unauthorized", "not_found", "rate_limited"],
  },
  {
    method: "post",
    path: "/api/generate/kie",
    summary: "Raw KIE access for admins (KIE_DEBUG_ROUTE=true): read a task or create one",
    access: "admin",
    body: { json: kieDebugRequestSchema, required: true },
    responses: { "200": { description: "KIE's answer.", json: answers.successSchema } },
    errors: ["invalid_request", "unauthorized", "forbidden", "not_found", "upstream_error"],
  },
  {
    method: "get",
    path: "/api/generations",
    summary:
      "The user's jobs, newest first, a page at a time; or some of them by id (taskIds, Prefer: wait=N: one watch for several)",
    access: "user",
    parameters: {
      cursor: { in: "query", schema: z.string(), description: "nextCursor of the previous page." },
      limit: { in: "query", schema: z.int().min(1).max(100), description: "Page size, default 20." },
      taskIds: { in: "query", schema: taskIdsParamSchema, description: "Those jobs only (see the schema)." },
    },
    responses: {
      "200": {
        description: "A page of jobs (with taskIds: those found, and remainingCredits).",
        json: answers.generationsPageSchema,
        headers: { "Preference-Applied": "wait=N when a wait was honoured (with taskIds)." },
      },
    },
    errors: ["invalid_request", "unauthorized"],
  },
  {
    method: "get",
    path: "/api/generations/{taskId}",
    summary: "One of the user's jobs, with its parent and children in the edit tree (sourceTaskId)",
    access: "user",
    parameters: { taskId: taskIdParam },
    responses: { "200": { description: "The job.", json: answers.generationDetailSchema } },
    errors: ["unauthorized", "not_found"],
  },
  {
    method: "delete",
    path: "/api/generations/{taskId}",
    summary: "Delete a finished job (owner only): its stored images go; history and status reads 404",
    access: "user",
    parameters: { taskId: taskIdParam },
    responses: { "200": { description: "Deleted.", json: answers.deletedSchema } },
    errors: ["invalid_request", "unauthorized", "forbidden", "not_found"],
  },
  {
    method: "get",
    path: "/api/credits",
    summary: "The user's credit balance",
    access: "user",
    responses: { "200": { description: "The balance.", json: answers.creditsSchema } },
    errors: ["unauthorized"],
  },
  {
    method: "get",
    path: "/api/keys",
    summary: "The user's personal API keys that still work (name, prefix, created, last used; never the key)",
    access: "user",
    responses: { "200": { description: "The keys, oldest first.", json: answers.apiKeysSchema } },
    errors: ["unauthorized", "rate_limited"],
  },
  {
    method: "post",
    path: "/api/keys",
    summary: "Create a personal API key (`nbk_…`), shown once in this answer; not with an API key",
    access: "user",
    body: { json: createApiKeySchema, required: true },
    responses: { "201": { description: "The key, shown this once.", json: answers.apiKeyCreatedSchema } },
    errors: ["invalid_request", "unauthorized", "forbidden", "unsupported_media_type", "rate_limited"],
  },
  {
    method: "delete",
    path: "/api/keys/{id}",
    summary: "Revoke one of the user's API keys: refused from the next request on, on every instance",
    access: "user",
    parameters: {
      id: { in: "path", schema: z.string().min(1), required: true, description: "The key's id." },
    },
    responses: { "200": { description: "Revoked.", json: answers.apiKeyRevokedSchema } },
    errors: ["unauthorized", "forbidden", "not_found", "rate_limited"],
  },
  {
    method: "post",
    path: "/api/mcp",
    summary:
      "The MCP server (Streamable HTTP, stateless; JSON-RPC in, JSON or an SSE stream out): tools generate_image, get_generation, list_generations, list_models, get_credits. Bearer only: an API key or an OAuth access token; 401 carries WWW-Authenticate with resource_metadata",
    access: "user",
    responses: mcpResponses,
    errors: ["unauthorized", "forbidden", "file_too_large", "rate_limited"],
  },
  {
    method: "get",
    path: "/api/mcp",
    summary: "MCP: no server-initiated stream in stateless serving (405 after authentication)",
    access: "user",
    responses: mcpResponses,
    errors: ["unauthorized", "forbidden", "file_too_large", "rate_limited"],
  },
  {
    method: "delete",
    path: "/api/mcp",
    summary: "MCP: no session to end in stateless serving (405 after authentication)",
    access: "user",
    responses: mcpResponses,
    errors: ["unauthorized", "forbidden", "file_too_large", "rate_limited"],
  },
  {
    method: "get",
    path: "/.well-known/oauth-protected-resource",
    summary:
      "RFC 9728 protected-resource metadata of /api/mcp (its authorization server: the Supabase project's)",
    access: "public",
    responses: { "200": { description: "The metadata.", json: answers.protectedResourceMetadataSchema } },
  },
  {
    method: "get",
    path: "/api/me",
    summary: "Who is signed in, their balance, and the server's modes",
    access: "user",
    responses: { "200": { description: "The user.", json: answers.meSchema } },
    errors: ["unauthorized"],
  },
  {
    method: "get",
    path: "/api/models",
    summary: "The model catalogue: options, limits and prices (public, cacheable)",
    access: "public",
    responses: { "200": { description: "Every model.", json: answers.modelsSchema } },
  },
  {
    method: "get",
    path: "/api/openapi.json",
    summary: "This document",
    access: "public",
    responses: { "200": { description: "OpenAPI 3.1.", json: answers.openApiDocumentSchema } },
  },
  {
    method: "get",
    path: "/api/image-proxy",
    summary: "Streams an image from an allowed host (IMAGE_PROXY_ALLOWED_HOSTS)",
    access: "user",
    parameters: { url: { in: "query", schema: z.string(), required: true, description: "The image URL." } },
    responses: { "200": { description: "The image bytes.", content: "image/*" } },
    errors: ["invalid_request", "unauthorized", "file_too_large", "unsupported_media_type", "upstream_error"],
  },
  {
    method: "get",
    path: "/api/images/{id}",
    summary: "A job's stored image (DESIGN.md §9): the owner, or anyone with a signed link",
    access: "user",
    parameters: {
      id: { in: "path", schema: z.string().min(1), required: true, description: "Our job id." },
      variant: { in: "query", schema: z.enum(["original", "thumb"]), description: "thumb: 256-px WebP." },
      download: { in: "query", schema: z.enum(["0", "1"]), description: "1: as an attachment." },
      expires: { in: "query", schema: z.string(), description: "Signed link: expiry (Unix seconds)." },
      sig: { in: "query", schema: z.string(), description: "Signed link: HMAC-SHA256." },
    },
    responses: {
      "200": {
        description:
          "The image bytes (ETag = sha256; cached for a signed link's remaining life, never by cookie or bearer).",
        content: "image/*",
      },
      "206": {
        description:
          "One byte range (Range: bytes=a-b, a-, -n; If-Range honoured) with Content-Range, where the store serves ranges (Accept-Ranges: bytes).",
        content: "image/*",
      },
      "302": {
        description: "IMAGE_STORE=s3, unless S3_PRESIGNED_REDIRECT=false: the image is at Location.",
        headers: { Location: "A presigned URL of the image, valid for at most 5 minutes." },
      },
      "304": { description: "Not modified (If-None-Match)." },
    },
    errors: [
      "invalid_request",
      "unauthorized",
      "forbidden",
      "not_found",
      "range_not_satisfiable",
      "service_unavailable",
    ],
  },
  {
    method: "post",
    path: "/api/kie/callback",
    summary: "KIE's completion callback (per-job token; X-Webhook-Signature when configured)",
    access: "secret",
    parameters: {
      job: { in: "query", schema: z.string(), required: true, description: "Our job id." },
      token: { in: "query", schema: z.string(), required: true, description: "The job's callback secret." },
    },
    body: { json: z.unknown(), required: true },
    responses: {
      "200": {
        description: "Accepted; the job is settled from a fresh read of KIE.",
        json: answers.successSchema,
      },
    },
    errors: ["invalid_request", "unauthorized", "forbidden", "not_found"],
  },
  {
    method: "get",
    path: "/api/health",
    summary: "Liveness and wiring",
    access: "public",
    responses: {
      "200": { description: "Up.", json: answers.healthSchema },
      "503": { description: "The database is down.", json: answers.healthSchema },
    },
  },
  {
    method: "get",
    path: "/api/metrics",
    summary: "Prometheus metrics (bearer METRICS_TOKEN when set)",
    access: "secret",
    responses: { "200": { description: "Prometheus text format.", content: "text/plain" } },
    errors: ["unauthorized"],
  },
  ...(["post", "get"] as const).map(
    (method): OperationSpec => ({
      method,
      path: "/api/cron/reconcile",
      summary: "One maintenance sweep (bearer CRON_SECRET; 404 without it)",
      access: "secret",
      responses: { "200": { description: "What the sweep did.", json: answers.sweepSchema } },
      errors: ["unauthorized", "not_found"],
    }),
  ),
  {
    method: "post",
    path: "/api/auth/dev",
    summary: "Dev sign-in (embedded mode only; 404 with Supabase auth): a token and the session cookie",
    access: "public",
    body: { json: devSignInSchema, required: true },
    responses: { "200": { description: "Signed in.", json: answers.devSignInAnswerSchema } },
    errors: ["invalid_request", "not_found", "rate_limited"],
  },
  {
    method: "post",
    path: "/api/auth/signout",
    summary: "Clears the session cookie",
    access: "public",
    responses: { "204": { description: "Signed out." } },
  },
];
