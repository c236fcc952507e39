import { z } from "zod";
import { imageGenerationSchema } from "@/lib/catalog";

/** `POST /api/generate/kie` (admins, KIE_DEBUG_ROUTE=true): read a task, or create one without credits. */
export const kieDebugRequestSchema = z.union([
  z.strictObject({ taskId: z.string().min(1).max(200) }),
  z.strictObject({ createTask: imageGenerationSchema }),
]);
