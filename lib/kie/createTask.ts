/**
 * createTask (kie-api.md "Create a task"): our request → KIE's body through the catalogue, and the
 * task id out of KIE's answer.
 */
import { z } from "zod";
import { type ImageGenerationRequest, resolveModelChoice } from "@/lib/catalog";
import { ValidationError } from "./errors";
import { lenientString, nonEmpty } from "./lenient";

export const createTaskRequestSchema = z.object({
  model: z.string().min(1),
  callBackUrl: z.url().optional(),
  input: z.looseObject({ prompt: z.string().min(1) }),
});
export type CreateTaskRequest = z.infer<typeof createTaskRequestSchema>;

export const createTaskDataSchema = z
  .looseObject({ taskId: lenientString, task_id: lenientString })
  .transform((d) => ({ taskId: nonEmpty(d.taskId) ?? nonEmpty(d.task_id) }))
  .pipe(z.object({ taskId: z.string().min(1) }));

export type CreateTaskInput = ImageGenerationRequest & {
  /** Public URLs of the request's images, already uploaded; used instead of `images`. */
  imageUrls?: string[];
};

export interface CreateTaskBodyOptions {
  /** Model used when the request names none and has no images (config KIE_MODEL). */
  textModel: string;
  /** Model used when the request names none and has images (config KIE_EDIT_MODEL). */
  editModel: string;
  callBackUrl?: string;
  /** KIE_NSFW_CHECKER: sent as `nsfw_checker` to the models that document it; off by default. */
  nsfwChecker?: boolean;
}

export interface CreateTaskBody {
  body: CreateTaskRequest;
  model: string;
  warnings: string[];
}

export const SEED_NOT_SENT_WARNING =
  "randomSeed was stored but not sent: KIE's Nano Banana API has no seed parameter, so results are not reproducible";

function preflight(message: string): ValidationError {
  return new ValidationError({ endpoint: "createTask", message: `Invalid generation request: ${message}` });
}

/**
 * Maps our request to KIE's createTask body through the catalogue (lib/catalog): which KIE model
 * (text or edit), and each input under that model's own field names and spellings. Throws
 * ValidationError (with no `code`: KIE was not called) when the request cannot be sent as asked.
 */
export function toCreateTaskBody(request: CreateTaskInput, options: CreateTaskBodyOptions): CreateTaskBody {
  const warnings: string[] = [];
  const images = request.imageUrls ?? request.images ?? [];
  if (images.some((url) => !/^https?:\/\//i.test(url))) {
    throw preflight("images must be uploaded first; pass their public URLs as imageUrls");
  }
  const resolved = resolveModelChoice(request, images.length, options);
  if (!resolved.ok) throw preflight(resolved.issues.map((issue) => issue.message).join("; "));
  const { model: entry, kieModel: model, resolution, aspectRatio } = resolved.choice;
  const kie = entry.kie;

  const prompt = request.prompt.trim();
  if (prompt === "") throw preflight("prompt must not be blank");
  if (prompt.length > kie.promptMaxChars) {
    throw preflight(`prompt must be at most ${kie.promptMaxChars} characters for ${model}`);
  }

  const input: CreateTaskRequest["input"] = { prompt };
  if (images.length > 0) {
    if (images.length > kie.images.max) throw preflight(`${model} takes at most ${kie.images.max} images`);
    input[kie.images.field] = [...images];
  }
  // The request's ratio, or the model's default where KIE requires one (Lite).
  if (aspectRatio !== undefined) input[kie.aspectField] = aspectRatio;
  // Always sent where the model has it: the resolution produced is the one that was priced.
  if (resolution !== undefined && kie.resolutionField) input[kie.resolutionField] = resolution;
  if (request.googleSearch !== undefined && kie.googleSearchField) {
    input[kie.googleSearchField] = request.googleSearch;
  }
  if (request.outputFormat !== undefined && kie.outputFormat) {
    input.output_format = kie.outputFormat[request.outputFormat];
  }
  // Sent explicitly (not left to KIE's default) so the operator's choice is what runs.
  if (kie.nsfwCheckerField) input[kie.nsfwCheckerField] = options.nsfwChecker ?? false;
  if (request.randomSeed !== undefined) warnings.push(SEED_NOT_SENT_WARNING);

  const body: CreateTaskRequest = { model, input };
  if (options.callBackUrl) body.callBackUrl = options.callBackUrl;
  return { body, model, warnings };
}
