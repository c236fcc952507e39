/**
 * The shapes of the public API's answers (DESIGN.md §3), as zod schemas: GET /api/openapi.json
 * publishes them, and the integration harness checks every real answer against that document.
 * Objects are loose (extra fields allowed, as DESIGN's "extra" fields are), so a new field only
 * needs documenting here, never breaks a client.
 */
import { z } from "zod";
import { ASPECT_RATIOS, generateFieldsSchema, OUTPUT_FORMATS, publicModelSchema } from "@/lib/catalog";
import { PUBLIC_ERRORS, type PublicErrorCode } from "../errors";

const ERROR_CODES = Object.keys(PUBLIC_ERRORS) as [PublicErrorCode, ...PublicErrorCode[]];
const credits = z.int().min(0);
const url = z.string().min(1).meta({ description: "An absolute URL, or a path on this server." });

export const errorSchema = z
  .looseObject({
    success: z.literal(false),
    error: z.looseObject({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      requestId: z.string(),
      retryAfterSeconds: z.int().min(0).optional().meta({ description: "With 429 (and Retry-After)." }),
      taskId: z.string().optional().meta({ description: "Whenever a job exists." }),
    }),
  })
  .meta({ description: "Every error answer (DESIGN.md §3)." });

export const jobStatusSchema = z.enum(["pending", "processing", "succeeded", "failed", "timeout"]);
/** While the job waits in our line for KIE's create budget (DESIGN.md §3). */
const placeInLine = {
  queuePosition: z
    .int()
    .min(1)
    .optional()
    .meta({ description: "While the job waits in line for KIE's create budget: its place (1 = next)." }),
  etaMs: z
    .int()
    .min(0)
    .optional()
    .meta({ description: "With queuePosition: about how long until the job is sent to KIE." }),
};
const warnings = z
  .array(z.string())
  .optional()
  .meta({ description: "Extra: what was not done as asked (e.g. randomSeed is not sent to KIE)." });

export const generateSucceededSchema = z.looseObject({
  success: z.literal(true),
  taskId: z.string(),
  status: z.literal("succeeded"),
  imageUrl: url,
  images: z.array(url).min(1),
  creditsUsed: credits.meta({ description: "The price of this request (MODEL_CREDITS)." }),
  remainingCredits: credits,
  warnings,
});

export const generateAcceptedSchema = z.looseObject({
  success: z.literal(true),
  taskId: z.string(),
  status: z.literal("pending"),
  statusUrl: z.string().meta({ description: "/api/generate/<taskId>; also in the Location header." }),
  pollAfterMs: z.int().min(0),
  remainingCredits: credits,
  ...placeInLine,
  warnings,
});

/** Extra fields of a result kept in our store (DESIGN.md §9). */
const storedImageFields = {
  thumbnailUrl: url.optional().meta({ description: "Extra: a 256-px WebP of the stored image." }),
  sourceUrl: url.optional().meta({ description: "Extra: KIE's URL of the result (expires after ~14 days)." }),
  imageStored: z.boolean().optional().meta({ description: "Extra: whether imageUrl is our stored copy." }),
  width: z.int().min(1).optional(),
  height: z.int().min(1).optional(),
};

const jobError = z.looseObject({ code: z.string(), message: z.string() });

/** A job as history lists it (lib/generation's JobView). */
export const jobSchema = z.looseObject({
  taskId: z.string(),
  status: jobStatusSchema,
  type: z.enum(["text_to_image", "image_edit"]),
  model: z.string().meta({ description: "The KIE model that ran the job." }),
  prompt: z.string(),
  aspectRatio: z.enum(ASPECT_RATIOS).optional(),
  outputFormat: z.enum(OUTPUT_FORMATS).optional(),
  imageUrl: url.optional(),
  images: z.array(url).optional(),
  ...storedImageFields,
  creditsUsed: credits.optional().meta({ description: "Once settled: the price if it succeeded, else 0." }),
  error: jobError.optional(),
  warnings,
  parentTaskId: z
    .string()
    .optional()
    .meta({ description: "The job whose result this one edited (sourceTaskId): its parent." }),
  batchId: z
    .string()
    .optional()
    .meta({ description: "The request that made it: the n jobs of one request share it." }),
  request: generateFieldsSchema.optional().meta({
    description:
      "What it was asked, as a POST /api/generate body that asks it again exactly (Run again): uploaded " +
      "references by their stored ids (referenceImageIds), the edited job as sourceTaskId, n for a batch.",
  }),
  ...placeInLine,
  createdAt: z.iso.datetime(),
  settledAt: z.iso.datetime().optional(),
});

/** POST /api/generate with n > 1: every job of the batch (DESIGN.md §3). */
export const generateBatchSchema = z
  .looseObject({
    success: z.literal(true),
    batchId: z.string(),
    status: z
      .enum(["pending", "settled"])
      .meta({ description: "pending (202) while any job is open; settled (200) once every job has ended." }),
    generations: z
      .array(jobSchema.extend({ statusUrl: z.string().meta({ description: "/api/generate/<taskId>" }) }))
      .min(1)
      .max(4)
      .meta({
        description:
          "Every job of the batch, in the order asked (a retry's answer leaves out the jobs the user deleted meanwhile); each says its own status and error.",
      }),
    creditsUsed: credits.meta({ description: "Charged so far: the price of each job that succeeded." }),
    remainingCredits: credits,
    statusUrl: z
      .string()
      .optional()
      .meta({ description: "While pending: /api/generations/<first taskId>, whose batch lists every job." }),
    pollAfterMs: z.int().min(0).optional(),
  })
  .meta({ description: "n > 1: the batch's jobs (n = 1 answers as one job)." });

/** One job with its place in the user's edit tree (GET /api/generations/{taskId}). */
export const generationDetailSchema = z.looseObject({
  success: z.literal(true),
  generation: jobSchema,
  parent: jobSchema
    .nullable()
    .meta({ description: "The job it edited; null for an original or a deleted parent." }),
  children: z.array(jobSchema).meta({ description: "The user's edits of this job's result, oldest first." }),
  batch: z
    .array(jobSchema)
    .min(1)
    .meta({ description: "Every job of its request (n variations), itself included, in the order asked." }),
});

export const taskStatusSchema = z.looseObject({
  success: z.literal(true),
  taskId: z.string(),
  status: jobStatusSchema,
  imageUrl: url.optional(),
  images: z.array(url).optional(),
  creditsUsed: credits.optional(),
  ...storedImageFields,
  remainingCredits: credits,
  pollAfterMs: z.int().min(0).optional().meta({ description: "While the job is open." }),
  ...placeInLine,
  warnings,
  error: jobError.optional(),
});

export const generationsPageSchema = z.looseObject({
  success: z.literal(true),
  generations: z.array(jobSchema),
  nextCursor: z.string().nullable(),
  remainingCredits: credits
    .optional()
    .meta({ description: "With taskIds: the balance now (a job that ended may have changed it)." }),
  notFound: z.array(z.string()).optional().meta({
    description:
      "With taskIds: the ids asked for that are no job of this user's; generations are the others, in the order asked.",
  }),
});

export const creditsSchema = z.looseObject({ success: z.literal(true), balance: credits });

const userSchema = z.looseObject({
  id: z.string(),
  email: z.string().nullable().optional(),
  isAdmin: z.boolean(),
});

export const meSchema = z.looseObject({
  success: z.literal(true),
  user: userSchema,
  balance: credits,
  auth: z.enum(["dev", "supabase"]),
  kie: z.enum(["simulator", "kie"]),
});

export const devSignInAnswerSchema = z.looseObject({
  success: z.literal(true),
  accessToken: z.string(),
  user: userSchema,
  expiresAt: z.int().meta({ description: "Unix seconds." }),
});

export const modelsSchema = z.looseObject({
  success: z.literal(true),
  models: z.array(publicModelSchema),
});

export const healthSchema = z.looseObject({
  ok: z.boolean(),
  kie: z.enum(["simulator", "kie"]),
  db: z.enum(["ok", "down"]),
  database: z.enum(["pglite", "postgres"]),
  line: z
    .looseObject({ length: z.int().min(0), oldestWaitMs: z.int().min(0) })
    .optional()
    .meta({ description: "Jobs waiting for KIE's create budget, and the oldest one's wait so far." }),
});

export const successSchema = z.looseObject({ success: z.literal(true) });

export const sweepSchema = z.looseObject({
  success: z.literal(true),
  examined: z.int(),
  settled: z.int(),
  imagesCopied: z.int().meta({ description: "Results copied into the store this pass." }),
  imagesPruned: z.int().meta({ description: "Stored images deleted (IMAGE_RETENTION_DAYS)." }),
  idempotencyKeysPurged: z.int(),
});

export const deletedSchema = z.looseObject({
  success: z.literal(true),
  taskId: z.string(),
  deleted: z.literal(true),
});

export const openApiDocumentSchema = z.looseObject({
  openapi: z.string(),
  paths: z.record(z.string(), z.unknown()),
});

export const apiKeySchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  prefix: z
    .string()
    .meta({ description: "The key's first characters (`nbk_` and 8 more), to recognise it." }),
  createdAt: z.string().meta({ description: "ISO 8601." }),
  lastUsedAt: z
    .string()
    .nullable()
    .meta({ description: "ISO 8601, recorded at most once a minute; null: never used." }),
});

export const apiKeyCreatedSchema = z.looseObject({
  success: z.literal(true),
  key: apiKeySchema,
  secret: z
    .string()
    .regex(/^nbk_[A-Za-z0-9_-]{43}$/)
    .meta({ description: "The key itself, shown this once: only its hash is kept." }),
});

export const apiKeysSchema = z.looseObject({ success: z.literal(true), keys: z.array(apiKeySchema) });

export const apiKeyRevokedSchema = z.looseObject({
  success: z.literal(true),
  id: z.string(),
  revoked: z.literal(true),
});

/** A JSON-RPC 2.0 message (or a batch) as the MCP SDK answers on /api/mcp; or one of our errors. */
export const jsonRpcSchema = z.union([
  z.looseObject({ jsonrpc: z.literal("2.0") }),
  z.array(z.looseObject({ jsonrpc: z.literal("2.0") })),
  errorSchema,
]);

export const protectedResourceMetadataSchema = z.looseObject({
  resource: z.string(),
  authorization_servers: z.array(z.string()),
  bearer_methods_supported: z.array(z.string()),
});
