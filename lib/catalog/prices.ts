/**
 * Prices in credits (MODEL_CREDITS, e.g. `nano-banana=1,nano-banana-pro=4,nano-banana-pro:4K=8`).
 * A request costs its model-and-resolution price, else its model's, else the default: KIE's own
 * cost for it in proportion, CREDITS_PER_GENERATION being the price of KIE's cheapest image
 * (rounded up, so no model sells below that proportion). The price is decided once, at reserve
 * time, and kept on the job (what creditsUsed reports).
 */
import type { ModelChoice } from "./choice";
import { CATALOG, type CatalogModel, type Resolution } from "./models";

/** `model` or `model:resolution` → credits. */
export type ModelCredits = Readonly<Record<string, number>>;

export interface Prices {
  /** CREDITS_PER_GENERATION: every model and resolution MODEL_CREDITS does not name. */
  perGeneration: number;
  byModel: ModelCredits;
}

/** KIE credits of its cheapest image (nano-banana, 2.1 at 1K): what CREDITS_PER_GENERATION buys. */
export const CHEAPEST_KIE_COST = Math.min(...CATALOG.map((m) => m.kie.cost.default));

/** KIE's cost of one image of this model at this resolution, in KIE credits. */
export function kieCostOf(model: CatalogModel, resolution?: Resolution): number {
  return (resolution && model.kie.cost.byResolution?.[resolution]) ?? model.kie.cost.default;
}

/** The price when MODEL_CREDITS names neither the model nor its resolution. */
export function defaultPrice(perGeneration: number, model: CatalogModel, resolution?: Resolution): number {
  return Math.ceil((perGeneration * kieCostOf(model, resolution)) / CHEAPEST_KIE_COST);
}

export function priceOf(prices: Prices, choice: Pick<ModelChoice, "model" | "resolution">): number {
  const id = choice.model.id;
  const exact = choice.resolution ? prices.byModel[`${id}:${choice.resolution}`] : undefined;
  return exact ?? prices.byModel[id] ?? defaultPrice(prices.perGeneration, choice.model, choice.resolution);
}

/** A model's price list as GET /api/models shows it. */
export function modelPrices(
  prices: Prices,
  model: CatalogModel,
): { default: number; byResolution?: Partial<Record<Resolution, number>> } {
  const resolutions = model.resolutions;
  if (!resolutions) return { default: priceOf(prices, { model }) };
  return {
    default: priceOf(prices, { model, resolution: resolutions.default }),
    byResolution: Object.fromEntries(
      resolutions.values.map((resolution) => [resolution, priceOf(prices, { model, resolution })]),
    ),
  };
}

/** Every key MODEL_CREDITS may use. */
export function priceKeys(): string[] {
  return CATALOG.flatMap((m) => [m.id, ...(m.resolutions?.values ?? []).map((r) => `${m.id}:${r}`)]);
}

/**
 * Parses MODEL_CREDITS. Returns the table, or a problem that names the bad entry (config.ts turns
 * it into a start-up error) — a typo must not silently charge the default price.
 */
export function parseModelCredits(
  text: string,
  maxCredits = 1_000_000,
): { credits: ModelCredits } | { problem: string } {
  const keys = new Set(priceKeys());
  const credits: Record<string, number> = {};
  for (const entry of text.split(",").map((e) => e.trim())) {
    if (entry === "") continue;
    const match = /^([^=\s]+)\s*=\s*(\d+)$/.exec(entry);
    if (!match) return { problem: `must be a comma list of model=credits (entry "${entry}")` };
    const [, key, amount] = match as unknown as [string, string, string];
    if (!keys.has(key))
      return { problem: `names an unknown model "${key}" (known: ${[...keys].join(", ")})` };
    if (key in credits) return { problem: `names "${key}" twice` };
    if (Number(amount) > maxCredits) return { problem: `prices ${key} above ${maxCredits}` };
    credits[key] = Number(amount);
  }
  return { credits };
}
