/**
 * The MCP tools (DESIGN.md §3 "MCP"). Each tool is a call of the public API made in-process with
 * the caller's own credential (`api`): the very handlers of POST /api/generate, GET
 * /api/generate/:id and the rest run, so an MCP generation is charged, limited, owned and made
 * idempotent exactly as an API one — there is no second path to the money.
 */
import type { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import type { PublicModel } from "@/lib/catalog";
import { referenceFields } from "./references";
import {
  generationOutput,
  generationOutputSchema,
  isOpen,
  type JobAnswer,
  MAX_INLINE_THUMBNAIL_BYTES,
  type Thumbnail,
  toolError,
  toolResult,
} from "./results";

/** Calls one of our API routes in-process as the MCP caller (app/api/mcp/route.ts wires it). */
export type ApiPort = (
  method: "GET" | "POST",
  path: string,
  init?: { body?: unknown; headers?: Record<string, string> },
) => Promise<Response>;

export interface ToolContext {
  api: ApiPort;
  /** The public origin: image links are made absolute with it. */
  origin: string;
  models: PublicModel[];
  /** How long generate_image and get_generation wait for an image before answering `pending`. */
  waitMs?: number;
}

export const DEFAULT_WAIT_MS = 20_000;

interface ErrorBody {
  error?: { code?: string; message?: string };
}

/** The answer's JSON, or the §3 error as a tool error. */
async function answer<T>(
  response: Response,
): Promise<{ ok: true; body: T } | { ok: false; result: ReturnType<typeof toolError> }> {
  const body = (await response.json().catch(() => ({}))) as T & ErrorBody;
  if (response.ok) return { ok: true, body };
  return {
    ok: false,
    result: toolError(body.error?.code ?? `http_${response.status}`, body.error?.message ?? ""),
  };
}

function priceList(models: PublicModel[]): string {
  return models
    .map((model) => {
      const byResolution = Object.entries(model.credits.byResolution ?? {})
        .map(([resolution, credits]) => `${resolution} ${credits}`)
        .join(", ");
      return `${model.id}: ${model.credits.default} credit${model.credits.default === 1 ? "" : "s"}${byResolution ? ` (${byResolution})` : ""}`;
    })
    .join("; ");
}

export function registerTools(server: McpServer, context: ToolContext): void {
  const { api, origin, models } = context;
  const waitMs = context.waitMs ?? DEFAULT_WAIT_MS;

  /** Waits (server side, Prefer: wait) for each open job, within one deadline; then answers. */
  async function settle(jobs: JobAnswer[], remaining: number | null, batchId?: string) {
    const deadline = Date.now() + waitMs;
    const latest = [...jobs];
    let balance = remaining;
    for (const [index, job] of latest.entries()) {
      const seconds = Math.floor((deadline - Date.now()) / 1000);
      if (!isOpen(job.status) || seconds < 1) continue;
      const read = await answer<JobAnswer>(
        await api("GET", `/api/generate/${encodeURIComponent(job.taskId)}`, {
          headers: { prefer: `wait=${Math.min(seconds, 25)}` },
        }),
      );
      if (!read.ok) continue; // the job stays as last seen; get_generation tells more
      latest[index] = read.body;
      balance = read.body.remainingCredits ?? balance;
    }
    const output = generationOutput(latest, origin, balance, batchId);
    return toolResult(output, await thumbnailOf(latest.find((job) => job.status === "succeeded")));
  }

  /** The stored 256-px thumbnail of a finished job, inline; none when it is not stored or too big. */
  async function thumbnailOf(job: JobAnswer | undefined): Promise<Thumbnail | undefined> {
    if (!job?.thumbnailUrl) return undefined;
    const url = new URL(job.thumbnailUrl, origin);
    const response = await api("GET", `${url.pathname}${url.search}`);
    if (!response.ok) return undefined;
    const bytes = Buffer.from(await response.arrayBuffer());
    if (bytes.length > MAX_INLINE_THUMBNAIL_BYTES) return undefined;
    return { data: bytes.toString("base64"), mimeType: response.headers.get("content-type") ?? "image/webp" };
  }

  server.registerTool(
    "generate_image",
    {
      title: "Generate an image",
      description:
        "Generate (or, with references or sourceTaskId, edit) an image with a Nano Banana model, charged to " +
        `your credits. Price per image in credits: ${priceList(models)}. Waits up to ${Math.round(waitMs / 1000)} s; ` +
        "if the image is not ready by then it answers status pending with the taskId: call get_generation with it. " +
        "Nothing is charged for a failed image.",
      inputSchema: z.object({
        prompt: z
          .string()
          .min(1)
          .max(5000)
          .describe("What to draw, or the change to make to the references."),
        model: z
          .enum(models.map((m) => m.id) as [string, ...string[]])
          .optional()
          .describe("See list_models."),
        aspectRatio: z
          .string()
          .optional()
          .describe('e.g. "1:1", "16:9", "auto"; the model\'s list in list_models.'),
        resolution: z.enum(["1K", "2K", "4K"]).optional().describe("Only for models that have resolutions."),
        n: z.number().int().min(1).max(4).optional().describe("How many variations (each is charged)."),
        references: z
          .array(z.string())
          .max(5)
          .optional()
          .describe(
            "Up to 5 reference images, mixed: https URLs; ids of images you uploaded before (a job's " +
              "referenceImageIds, as list_generations shows them); and the taskId of " +
              "one of your own results (at most one, like sourceTaskId).",
          ),
        sourceTaskId: z
          .string()
          .optional()
          .describe("Edit one of your own earlier results (its taskId); it counts toward the 5."),
        idempotencyKey: z
          .string()
          .max(255)
          .optional()
          .describe("Send the same key when retrying the same request: it is never charged twice."),
      }),
      outputSchema: generationOutputSchema,
      annotations: {
        readOnlyHint: false,
        idempotentHint: false,
        destructiveHint: false,
        openWorldHint: true,
      },
    },
    async (input) => {
      const references = referenceFields(input.references ?? [], input.sourceTaskId);
      if (!references.ok) return toolError("invalid_request", references.message);
      const body = {
        prompt: input.prompt,
        ...(input.model && { model: input.model }),
        ...(input.aspectRatio && { aspectRatio: input.aspectRatio }),
        ...(input.resolution && { resolution: input.resolution }),
        ...(input.n && input.n > 1 && { n: input.n }),
        ...references.fields,
      };
      const created = await answer<JobAnswer & { generations?: JobAnswer[] }>(
        await api("POST", "/api/generate", {
          body,
          headers: {
            prefer: "respond-async",
            ...(input.idempotencyKey && { "idempotency-key": input.idempotencyKey }),
          },
        }),
      );
      if (!created.ok) return created.result;
      const jobs = created.body.generations ?? [created.body];
      return settle(jobs, created.body.remainingCredits ?? null, created.body.batchId);
    },
  );

  server.registerTool(
    "get_generation",
    {
      title: "Get a generation",
      description:
        "The status and image links of one of your jobs (from generate_image or list_generations). " +
        `Waits up to ${Math.round(waitMs / 1000)} s for a running job to end.`,
      inputSchema: z.object({ taskId: z.string().min(1).max(200) }),
      outputSchema: generationOutputSchema,
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ taskId }) => {
      const read = await answer<JobAnswer>(await api("GET", `/api/generate/${encodeURIComponent(taskId)}`));
      if (!read.ok) return read.result;
      return settle([read.body], read.body.remainingCredits ?? null, read.body.batchId);
    },
  );

  server.registerTool(
    "list_generations",
    {
      title: "List your generations",
      description:
        "Your jobs, newest first, 20 a page; pass nextCursor for the next page. A job's referenceImageIds " +
        "name the images uploaded for it: pass them in generate_image's references to use them again.",
      inputSchema: z.object({ cursor: z.string().max(500).optional() }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ cursor }) => {
      const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : "";
      const page = await answer<{
        generations: (JobAnswer & {
          prompt: string;
          createdAt: string;
          request?: { referenceImageIds?: string[] };
        })[];
        nextCursor: string | null;
      }>(await api("GET", `/api/generations${query}`));
      if (!page.ok) return page.result;
      const generations = page.body.generations.map((job) => ({
        taskId: job.taskId,
        status: job.status,
        prompt: job.prompt,
        createdAt: job.createdAt,
        images: (job.images ?? []).map((url) => new URL(url, origin).toString()),
        ...(job.request?.referenceImageIds && { referenceImageIds: job.request.referenceImageIds }),
      }));
      const structured = { generations, nextCursor: page.body.nextCursor };
      return {
        structuredContent: structured,
        content: [{ type: "text" as const, text: JSON.stringify(structured) }],
      };
    },
  );

  server.registerTool(
    "list_models",
    {
      title: "List the models",
      description: "The image models, their aspect ratios, resolutions and prices in credits.",
      inputSchema: z.object({}),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async () => {
      const list = models.map((model) => ({
        id: model.id,
        label: model.label,
        description: model.description,
        aspectRatios: model.options.aspectRatios,
        resolutions: model.options.resolutions ?? [],
        credits: model.credits,
        deprecated: model.deprecated,
      }));
      return {
        structuredContent: { models: list },
        content: [{ type: "text" as const, text: JSON.stringify(list) }],
      };
    },
  );

  server.registerTool(
    "get_credits",
    {
      title: "Get your credits",
      description: "Your credit balance.",
      inputSchema: z.object({}),
      outputSchema: z.object({ balance: z.number().int() }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async () => {
      const read = await answer<{ balance: number }>(await api("GET", "/api/credits"));
      if (!read.ok) return read.result;
      const balance = read.body.balance;
      return {
        structuredContent: { balance },
        content: [{ type: "text" as const, text: `${balance} credits.` }],
      };
    },
  );
}
