/**
 * The two kinds of request the product takes: a prompt alone, or a prompt with 1–5 images. Its
 * own file, importing nothing, because the database schema (read by drizzle-kit too) and the
 * metrics both name these.
 */
export const GENERATION_TYPES = ["text_to_image", "image_edit"] as const;
export type GenerationType = (typeof GENERATION_TYPES)[number];
