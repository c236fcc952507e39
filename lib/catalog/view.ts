/**
 * GET /api/models: each model as a client sees it. The zod schema below is the answer's type
 * (publicModel returns exactly it) and what the OpenAPI document publishes, so the two cannot drift.
 * Objects are loose, as every answer schema is (lib/http/openapi/schemas.ts): a new field never
 * breaks a client.
 */
import { z } from "zod";
import {
  ASPECT_RATIOS,
  CATALOG,
  CATALOG_MODEL_IDS,
  type CatalogModel,
  modelLimits,
  OUTPUT_FORMATS,
  RESOLUTIONS,
} from "./models";
import { modelPrices, type Prices } from "./prices";

const credits = z.int().min(0);
const limitsSchema = z.looseObject({ promptMaxChars: z.int(), maxImages: z.int(), maxImageBytes: z.int() });

export const publicModelSchema = z.looseObject({
  id: z
    .enum(CATALOG_MODEL_IDS as [string, ...string[]])
    .meta({ description: "The value of `model` in POST /api/generate." }),
  label: z.string(),
  description: z.string(),
  kieModels: z
    .looseObject({ text: z.string(), edit: z.string() })
    .meta({ description: "The KIE models that run it, without and with images (also accepted as `model`)." }),
  deprecated: z.looseObject({ successor: z.string(), reason: z.string() }).nullable().meta({
    description: "Set when the model is being retired upstream: it still works; prefer `successor`.",
  }),
  options: z.looseObject({
    aspectRatios: z.array(z.enum(ASPECT_RATIOS)),
    aspectRatioRequired: z
      .boolean()
      .meta({ description: "KIE needs a ratio: a request without one is sent `defaults.aspectRatio`." }),
    resolutions: z
      .array(z.enum(RESOLUTIONS))
      .optional()
      .meta({ description: "Absent: `resolution` is a 400." }),
    defaultResolution: z.enum(RESOLUTIONS).optional(),
    googleSearch: z.boolean(),
    outputFormats: z
      .array(z.enum(OUTPUT_FORMATS))
      .meta({ description: "Empty: the model has no format choice and `outputFormat` is a 400." }),
  }),
  defaults: z
    .looseObject({
      aspectRatio: z.enum(ASPECT_RATIOS),
      resolution: z.enum(RESOLUTIONS).nullable(),
      outputFormat: z
        .enum(OUTPUT_FORMATS)
        .nullable()
        .meta({ description: "null: KIE does not document the format it returns for this model." }),
    })
    .meta({ description: "What a request that names an option gets when it leaves it out." }),
  limits: limitsSchema.extend({
    kie: limitsSchema.meta({ description: "KIE's own limits, where this product's are lower." }),
  }),
  credits: z.looseObject({
    default: credits.meta({ description: "The price at the default resolution." }),
    byResolution: z.partialRecord(z.enum(RESOLUTIONS), credits).optional(),
  }),
});

export type PublicModel = z.infer<typeof publicModelSchema>;

/** One model as GET /api/models shows it: what a client may send, its defaults, limits and prices. */
export function publicModel(model: CatalogModel, prices: Prices, maxUploadBytes: number): PublicModel {
  return {
    id: model.id,
    label: model.label,
    description: model.description,
    kieModels: { text: model.kie.textModel, edit: model.kie.editModel },
    deprecated: model.deprecated ? { ...model.deprecated } : null,
    options: {
      aspectRatios: [...model.aspectRatios],
      aspectRatioRequired: model.aspectRatioRequired,
      ...(model.resolutions && {
        resolutions: [...model.resolutions.values],
        defaultResolution: model.resolutions.default,
      }),
      googleSearch: model.googleSearch,
      outputFormats: [...(model.outputFormats?.values ?? [])],
    },
    defaults: {
      aspectRatio: model.defaultAspectRatio,
      resolution: model.resolutions?.default ?? null,
      outputFormat: model.outputFormats?.default ?? null,
    },
    limits: modelLimits(model, maxUploadBytes),
    credits: modelPrices(prices, model),
  };
}

export function publicCatalog(prices: Prices, maxUploadBytes: number): PublicModel[] {
  return CATALOG.map((model) => publicModel(model, prices, maxUploadBytes));
}

/**
 * The studio's picker order: the configured default first — unless it is being retired, then its
 * successor — and every successor ahead of the model it replaces (the catalogue's own order).
 */
export function pickerOrder<M extends { id: string; deprecated: { successor: string } | null }>(
  models: readonly M[],
  defaultId: string | undefined,
): M[] {
  const byId = new Map(models.map((m) => [m.id, m]));
  const deprecated = defaultId ? byId.get(defaultId)?.deprecated : undefined;
  const first = deprecated?.successor ?? defaultId;
  return [...models.filter((m) => m.id === first), ...models.filter((m) => m.id !== first)];
}
