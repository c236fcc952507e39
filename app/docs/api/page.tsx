import type { Metadata } from "next";
import { openApiDocument } from "@/lib/http/openapi/document";
import styles from "./docs.module.css";
import { type JsonSchema, SchemaView } from "./SchemaView";

export const metadata: Metadata = { title: "HTTP API — Nano Banana Studio" };

interface Operation {
  summary: string;
  security?: unknown[];
  parameters?: { name: string; in: string; required: boolean; description: string; schema: JsonSchema }[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: JsonSchema }> }>;
}

interface Document {
  info: { title: string; description: string; version: string };
  paths: Record<string, Record<string, Operation>>;
}

function access(operation: Operation): string {
  if (!operation.security) return "its own secret (see the summary)";
  return operation.security.length === 0 ? "public" : "signed in (Bearer token or session cookie)";
}

/**
 * The OpenAPI document as plain, server-rendered HTML: no script, nothing fetched, so it works
 * offline. Generated from the same document GET /api/openapi.json serves.
 */
export default function ApiDocsPage() {
  const doc = openApiDocument() as unknown as Document;
  const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method: method.toUpperCase(), operation })),
  );
  return (
    <main className={styles.docs}>
      <h1>{doc.info.title}</h1>
      <p>{doc.info.description}</p>
      <p>
        Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1). Models, options and
        prices: <a href="/api/models">/api/models</a>.
      </p>
      <nav aria-label="Routes">
        <ul>
          {operations.map(({ path, method }) => (
            <li key={`${method} ${path}`}>
              <a href={`#${method}-${path}`}>
                <code>
                  {method} {path}
                </code>
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {operations.map(({ path, method, operation }) => (
        <section
          key={`${method} ${path}`}
          id={`${method}-${path}`}
          aria-labelledby={`${method}-${path}-title`}
        >
          <h2 id={`${method}-${path}-title`}>
            <code>
              {method} {path}
            </code>
          </h2>
          <p>{operation.summary}</p>
          <p>Access: {access(operation)}</p>
          {operation.parameters && (
            <>
              <h3>Parameters</h3>
              <ul>
                {operation.parameters.map((p) => (
                  <li key={p.name}>
                    <code>{p.name}</code> ({p.in}
                    {p.required ? ", required" : ""}): {p.description}
                  </li>
                ))}
              </ul>
            </>
          )}
          {operation.requestBody &&
            Object.entries(operation.requestBody.content).map(([type, media]) => (
              <div key={type}>
                <h3>
                  Body: <code>{type}</code>
                </h3>
                <SchemaView schema={media.schema} />
              </div>
            ))}
          <h3>Answers</h3>
          <dl>
            {Object.entries(operation.responses).map(([status, response]) => (
              <div key={status}>
                <dt>
                  <strong>{status}</strong> {response.description}
                  {response.content && <> — {Object.keys(response.content).join(", ")}</>}
                </dt>
                {status.startsWith("2") && response.content?.["application/json"] && (
                  <dd>
                    <SchemaView schema={response.content["application/json"].schema} />
                  </dd>
                )}
              </div>
            ))}
          </dl>
        </section>
      ))}
      <section aria-labelledby="errors-title">
        <h2 id="errors-title">Errors</h2>
        <p>Every error answer (4xx, 5xx) has this shape:</p>
        <SchemaView
          schema={
            doc.paths["/api/credits"]?.get?.responses.default?.content?.["application/json"]?.schema ?? {}
          }
        />
      </section>
    </main>
  );
}
