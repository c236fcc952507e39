/**
 * Which catalogue model a request runs on, and whether it asks for options that model lacks.
 * An option the model does not have is refused (a 400 naming the field) rather than dropped:
 * the caller would otherwise pay for an image that ignores what they asked for.
 */
import { z } from "zod";
import { type AspectRatio, CATALOG, type CatalogModel, lookupModel, type Resolution } from "./models";

/** The model-dependent fields of a generation request. */
export interface ModelOptionsRequest {
  model?: string;
  aspectRatio?: string;
  resolution?: string;
  outputFormat?: string;
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
  /** The ratio sent to KIE: the request's, else the model's default where KIE requires one. */
  aspectRatio?: AspectRatio;
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
  const issues = optionIssues(model, request, request.model ? model.id : `${model.id} (the default model)`);
  if (requiresImages && imageCount === 0) {
    issues.unshift({ field: "model", message: `${id} needs at least one image` });
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
      aspectRatio:
        (request.aspectRatio as AspectRatio | undefined) ??
        (model.aspectRatioRequired ? model.defaultAspectRatio : undefined),
    },
  };
}

/** Each option of the request that `model` (called `name` in messages) does not offer. */
function optionIssues(model: CatalogModel, request: ModelOptionsRequest, name: string): OptionIssue[] {
  const issues: OptionIssue[] = [];
  const { aspectRatio, resolution, outputFormat, googleSearch } = request;
  if (aspectRatio !== undefined && !model.aspectRatios.some((r) => r === aspectRatio)) {
    issues.push({
      field: "aspectRatio",
      message: `aspectRatio ${aspectRatio} is not offered by ${name}; it takes ${model.aspectRatios.join(", ")}`,
    });
  }
  if (resolution !== undefined && !model.resolutions?.values.some((r) => r === resolution)) {
    issues.push({
      field: "resolution",
      message: model.resolutions
        ? `resolution ${resolution} is not offered by ${name}`
        : `resolution is not an option of ${name}; ${modelsWith("resolutions")}`,
    });
  }
  if (outputFormat !== undefined && !model.outputFormats?.values.some((f) => f === outputFormat)) {
    issues.push({
      field: "outputFormat",
      message: model.outputFormats
        ? `outputFormat ${outputFormat} is not offered by ${name}`
        : `outputFormat is not an option of ${name}; KIE picks its format`,
    });
  }
  if (googleSearch !== undefined && !model.googleSearch) {
    issues.push({
      field: "googleSearch",
      message: `googleSearch is not an option of ${name}; ${modelsWith("googleSearch")}`,
    });
  }
  return issues;
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

/** "a and b have it" / "a has it" / "no model offers it": where to find the option instead. */
function modelsWith(feature: "resolutions" | "googleSearch"): string {
  const ids = CATALOG.filter((m) => Boolean(m[feature])).map((m) => m.id);
  if (ids.length === 0) return "no model offers it";
  const names = ids.length > 2 ? `${ids.slice(0, -1).join(", ")} and ${ids.at(-1)}` : ids.join(" and ");
  return `${names} ${ids.length === 1 ? "has" : "have"} it`;
}
