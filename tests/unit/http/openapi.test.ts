/**
 * GET /api/openapi.json is generated, complete and usable: every route under app/api is in it
 * with each method it exports, its request bodies are the zod schemas that validate them, and
 * the answer checker the integration harness runs on every answer refuses a wrong one.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { generateFieldsSchema, publicCatalog, publicModelSchema } from "@/lib/catalog";
import { openApiDocument } from "@/lib/http/openapi/document";
import { createAnswerChecker } from "../../helpers/openapiCheck";

const API_DIR = path.resolve(__dirname, "../../../app/api");
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/** Every route file under app/api, as an OpenAPI path (`[taskId]` → `{taskId}`). */
function routeFiles(dir = API_DIR): { file: string; path: string }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return routeFiles(full);
    if (entry.name !== "route.ts") return [];
    const route = `/api/${path.relative(API_DIR, dir).split(path.sep).join("/")}`
      .replace(/\/$/, "")
      .replace(/\[([^\].]+)\]/g, "{$1}");
    return [{ file: full, path: route }];
  });
}

// biome-ignore lint/suspicious/noExplicitAny: the document is plain JSON.
const doc = openApiDocument() as any;

describe("the OpenAPI document", () => {
  it("is OpenAPI 3.1 and plain JSON", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });

  it("has every route under app/api, with every method it exports", async () => {
    const files = routeFiles();
    expect(files.length).toBeGreaterThan(10);
    for (const { file, path: route } of files) {
      if (route.includes("[...")) continue; // the catch-all that answers 404 for unknown paths
      const module = (await import(file)) as Record<string, unknown>;
      const exported = METHODS.filter((method) => typeof module[method] === "function");
      expect(exported.length, route).toBeGreaterThan(0);
      for (const method of exported) {
        expect(
          doc.paths[route]?.[method.toLowerCase()],
          `${method} ${route} is not in the document`,
        ).toBeDefined();
      }
    }
  });

  it("documents POST /api/generate with the very schema that validates it", () => {
    const body = doc.paths["/api/generate"].post.requestBody.content["application/json"].schema;
    const { $schema: _s, ...expected } = z.toJSONSchema(generateFieldsSchema, { io: "input" });
    expect(body).toEqual(expected);
    expect(body.properties.resolution.enum).toEqual(["1K", "2K", "4K"]);
    // Still in the schema, so a client sending it hears why (no model offers it) rather than "unknown key".
    expect(body.properties.googleSearch.type).toBe("boolean");
    expect(body.properties.model.enum).toEqual(expect.arrayContaining(["nano-banana", "nano-banana-pro"]));
    expect(body.additionalProperties).toBe(false);
    expect(doc.paths["/api/generate"].post.requestBody.content["multipart/form-data"]).toBeDefined();
  });

  it("documents GET /api/models with the schema that types its answer: defaults, limits, prices, deprecation", () => {
    const answer = doc.paths["/api/models"].get.responses["200"].content["application/json"].schema;
    const { $schema: _s, ...expected } = z.toJSONSchema(publicModelSchema, {
      io: "output",
      unrepresentable: "any",
    });
    expect(answer.properties.models.items).toEqual(expected);
    expect(Object.keys(answer.properties.models.items.properties)).toEqual(
      expect.arrayContaining(["defaults", "limits", "credits", "deprecated", "kieModels"]),
    );
    expect(answer.properties.models.items.properties.defaults.required).toEqual([
      "aspectRatio",
      "resolution",
      "outputFormat",
    ]);
    // Every model the server would publish fits the schema.
    for (const model of publicCatalog({ perGeneration: 1, byModel: {} }, 10 * 1024 * 1024)) {
      expect(publicModelSchema.safeParse(model).success, model.id).toBe(true);
    }
  });

  it("lists each error status a route can answer, in the error shape", () => {
    const responses = doc.paths["/api/generate"].post.responses;
    for (const status of [
      "200",
      "202",
      "400",
      "401",
      "402",
      "409",
      "413",
      "415",
      "422",
      "429",
      "502",
      "504",
    ]) {
      expect(responses[status], status).toBeDefined();
    }
    expect(
      responses["402"].content["application/json"].schema.properties.error.properties.code.enum,
    ).toContain("insufficient_credits");
  });
});

describe("the answer checker", () => {
  const check = createAnswerChecker(doc);
  const jsonAnswer = (body: unknown, status = 200) => Response.json(body, { status });

  it("accepts a documented answer", async () => {
    await expect(
      check("GET", "/api/credits", jsonAnswer({ success: true, balance: 3 })),
    ).resolves.toBeUndefined();
  });

  it("refuses a wrong field, an undocumented route and a body that is not the error shape", async () => {
    await expect(check("GET", "/api/credits", jsonAnswer({ success: true, balance: "3" }))).rejects.toThrow(
      /does not match/,
    );
    await expect(check("GET", "/api/nothing", jsonAnswer({}))).rejects.toThrow(/not in/);
    await expect(check("GET", "/api/models", jsonAnswer({ oops: true }, 418))).rejects.toThrow(
      /does not match/,
    );
  });

  it("matches a static path before a parameter", async () => {
    await expect(
      check("POST", "/api/generate/kie", jsonAnswer({ success: true, record: { taskId: "t" } })),
    ).resolves.toBeUndefined();
  });
});
