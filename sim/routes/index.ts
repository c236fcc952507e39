/**
 * The KIE route table: path → route. A route names its method, its endpoint (for stats and fault
 * rules), its envelope and its handler; the pipeline (pipeline.ts) does the rest.
 */
import type { Route } from "../http";
import { ACCOUNT_ROUTES } from "./account";
import { DOWNLOAD_ROUTES, FILE_PREFIXES, FILE_ROUTE } from "./files";
import { JOB_ROUTES } from "./jobs";
import { UPLOAD_ROUTES } from "./uploads";

const ROUTES = new Map<string, Route>(
  Object.entries({ ...JOB_ROUTES, ...UPLOAD_ROUTES, ...DOWNLOAD_ROUTES, ...ACCOUNT_ROUTES }),
);

/** The route for a path, and whether it is a file (which also answers HEAD). */
export function findRoute(path: string): { route: Route; isFile: boolean } | undefined {
  if (FILE_PREFIXES.some((prefix) => path.startsWith(prefix))) return { route: FILE_ROUTE, isFile: true };
  const route = ROUTES.get(path);
  return route && { route, isFile: false };
}
