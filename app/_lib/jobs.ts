import { z } from "zod";
import { jobSchema } from "@/lib/http/openapi/schemas";

const listedJobs = z.array(jobSchema);

/**
 * Jobs handed from a server page to the browser, checked by the schema the API's answers have
 * (the UI's Job type is inferred from it): the first page is what `GET /api/generations` would say.
 */
export function asListedJobs(jobs: unknown) {
  return listedJobs.parse(jobs);
}
