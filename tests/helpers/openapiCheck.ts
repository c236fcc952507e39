/**
 * Checks real answers against GET /api/openapi.json: the status must be documented for the
 * operation, and a JSON answer must match the documented schema. The integration harness runs
 * every answer of every route through this, so the whole suite keeps the document honest.
 */
import { z } from "zod";

interface MediaObject {
  schema?: Record<string, unknown>;
}
interface ResponseObject {
  content?: Record<string, MediaObject>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, ResponseObject> }>>;
}

interface CompiledPath {
  template: string;
  pattern: RegExp;
  params: number;
}

export type AnswerChecker = (method: string, url: string, response: Response) => Promise<void>;

export function createAnswerChecker(document: unknown): AnswerChecker {
  const doc = document as OpenApiDocument;
  const paths: CompiledPath[] = Object.keys(doc.paths)
    .map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`),
      params: (template.match(/\{/g) ?? []).length,
    }))
    // A static segment wins over a parameter (/api/generate/kie before /api/generate/{taskId}).
    .sort((a, b) => a.params - b.params);
  const validators = new Map<Record<string, unknown>, z.ZodType>();
  const validatorFor = (schema: Record<string, unknown>) => {
    let validator = validators.get(schema);
    if (!validator) {
      validator = z.fromJSONSchema(schema);
      validators.set(schema, validator);
    }
    return validator;
  };

  return async (method, url, response) => {
    const { pathname } = new URL(url, "http://localhost");
    const where = `${method} ${pathname} → ${response.status}`;
    const path = paths.find((p) => p.pattern.test(pathname));
    // HEAD is GET's answer without its body (RFC 9110 §9.3.2): documented by the GET.
    const head = method.toUpperCase() === "HEAD";
    const operation = path && doc.paths[path.template]?.[head ? "get" : method.toLowerCase()];
    if (!operation) throw new Error(`${where}: not in /api/openapi.json`);
    const documented = operation.responses[String(response.status)] ?? operation.responses.default;
    if (!documented) throw new Error(`${where}: status not documented in /api/openapi.json`);
    if (head) {
      if (response.body !== null) throw new Error(`${where}: a HEAD answer carries a body`);
      return;
    }
    const type = response.headers.get("content-type")?.split(";")[0]?.trim() ?? "";
    const content = documented.content;
    if (!content) {
      if (response.body !== null && type !== "")
        throw new Error(`${where}: documented without a body, got ${type}`);
      return;
    }
    const media = content[type] ?? content[`${type.split("/")[0]}/*`];
    if (!media)
      throw new Error(`${where}: ${type || "no content type"} is not documented (${Object.keys(content)})`);
    if (type !== "application/json" || !media.schema) return;
    const body = await response.clone().json();
    const result = validatorFor(media.schema).safeParse(body);
    if (!result.success) {
      throw new Error(
        `${where}: the answer does not match /api/openapi.json (lib/http/openapi/schemas.ts): ` +
          `${z.prettifyError(result.error)}\n${JSON.stringify(body).slice(0, 2000)}`,
      );
    }
  };
}
