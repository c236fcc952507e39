import { CATALOG, type CatalogModel, modelLimits, OUTPUT_FORMATS } from "./models";
import { modelPrices, type Prices } from "./prices";

/** One model as GET /api/models shows it: what a client may send, its limits and its prices. */
export function publicModel(model: CatalogModel, prices: Prices, maxUploadBytes: number) {
  return {
    id: model.id,
    label: model.label,
    description: model.description,
    options: {
      aspectRatios: [...model.aspectRatios],
      ...(model.resolutions && {
        resolutions: [...model.resolutions.values],
        defaultResolution: model.resolutions.default,
      }),
      googleSearch: model.googleSearch,
      outputFormats: [...OUTPUT_FORMATS],
    },
    limits: modelLimits(model, maxUploadBytes),
    credits: modelPrices(prices, model),
  };
}

export type PublicModel = ReturnType<typeof publicModel>;

export function publicCatalog(prices: Prices, maxUploadBytes: number): PublicModel[] {
  return CATALOG.map((model) => publicModel(model, prices, maxUploadBytes));
}
