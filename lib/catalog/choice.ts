/**
 * Which catalogue model a request runs on, and whether it asks for options that model lacks.
 * An option the model does not have is refused (a 400 naming the field) rather than dropped:
 * the caller would otherwise pay for an image that ignores what they asked for.
 */
import { z } from "zod";
import { CATALOG, type CatalogModel, lookupModel, type Resolution } from "./models";

/** The model-dependent fields of a generation request. */
export interface ModelOptionsRequest {
  model?: string;
  aspectRatio?: string;
  resolution?: string;
  googleSearch?: boolean;
}

/** KIE_MODEL / KIE_EDIT_MODEL: the models of a request that names none. */
export interface DefaultModels {
  textModel: string;
  editModel: string;
}

export interface ModelChoice {
  model: CatalogModel;
  /** The KIE model that runs it (text or edit). */
  kieModel: string;
  /** The resolution that will be produced (and priced): the request's, else the model's default. */
  resolution?: Resolution;
}

export interface OptionIssue {
  field: keyof ModelOptionsRequest;
  message: string;
}

export type ModelChoiceResult = { ok: true; choice: ModelChoice } | { ok: false; issues: OptionIssue[] };

/**
 * Resolves the request's model (its own, else the default for text or edit) and checks every
 * model-dependent option against the catalogue entry.
 */
export function resolveModelChoice(
  request: ModelOptionsRequest,
  imageCount: number,
  defaults: DefaultModels,
): ModelChoiceResult {
  const id = request.model ?? (imageCount > 0 ? defaults.editModel : defaults.textModel);
  const found = lookupModel(id);
  if (!found) return { ok: false, issues: [{ field: "model", message: `model ${id} is not offered` }] };
  const { model, requiresImages } = found;
  const name = request.model ? model.id : `${model.id} (the default model)`;
  const issues: OptionIssue[] = [];
  if (requiresImages && imageCount === 0) {
    issues.push({ field: "model", message: `${id} needs at least one image` });
  }
  if (request.aspectRatio !== undefined && !model.aspectRatios.some((r) => r === request.aspectRatio)) {
    issues.push({
      field: "aspectRatio",
      message: `aspectRatio ${request.aspectRatio} is not offered by ${name}; it takes ${model.aspectRatios.join(", ")}`,
    });
  }
  if (request.resolution !== undefined && !model.resolutions?.values.some((r) => r === request.resolution)) {
    issues.push({
      field: "resolution",
      message: model.resolutions
        ? `resolution ${request.resolution} is not offered by ${name}`
        : `resolution is not an option of ${name}; ${modelsWith("resolutions")}`,
    });
  }
  if (request.googleSearch !== undefined && !model.googleSearch) {
    issues.push({
      field: "googleSearch",
      message: `googleSearch is not an option of ${name}; ${modelsWith("googleSearch")}`,
    });
  }
  if (issues.length > 0) return { ok: false, issues };
  return {
    ok: true,
    choice: {
      model,
      kieModel: imageCount > 0 ? model.kie.editModel : model.kie.textModel,
      resolution: model.resolutions
        ? ((request.resolution as Resolution | undefined) ?? model.resolutions.default)
        : undefined,
    },
  };
}

/** Like resolveModelChoice, but a refused option throws a ZodError (an HTTP 400 naming the field). */
export function chooseModel(
  request: ModelOptionsRequest,
  imageCount: number,
  defaults: DefaultModels,
): ModelChoice {
  const result = resolveModelChoice(request, imageCount, defaults);
  if (result.ok) return result.choice;
  throw new z.ZodError(
    result.issues.map((issue) => ({
      code: "custom" as const,
      path: [issue.field],
      message: issue.message,
      input: request[issue.field],
    })),
  );
}

/** "a and b have it" / "a has it": where to find the option instead. */
function modelsWith(feature: "resolutions" | "googleSearch"): string {
  const ids = CATALOG.filter((m) => Boolean(m[feature])).map((m) => m.id);
  return `${ids.join(" and ")} ${ids.length === 1 ? "has" : "have"} it`;
}
