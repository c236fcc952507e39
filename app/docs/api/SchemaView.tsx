/** Plain HTML for a JSON Schema (as zod's toJSONSchema writes it): one row per property. */

export type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  description?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  format?: string;
};

/** A one-line type: `"1K" | "2K"`, `string[] (≤ 5)`, `integer 1–100`. */
export function typeOf(schema: JsonSchema): string {
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return union.map(typeOf).join(" | ");
  if (schema.type === "array") {
    return `${schema.items ? typeOf(schema.items) : "any"}[]${schema.maxItems !== undefined ? ` (≤ ${schema.maxItems})` : ""}`;
  }
  const base = Array.isArray(schema.type) ? schema.type.join(" | ") : (schema.type ?? "any");
  const range =
    schema.minLength !== undefined || schema.maxLength !== undefined
      ? ` (${schema.minLength ?? 0}–${schema.maxLength ?? "∞"} chars)`
      : schema.minimum !== undefined && schema.maximum !== undefined && schema.maximum < 1e15
        ? ` ${schema.minimum}–${schema.maximum}`
        : "";
  return `${base}${schema.format ? ` (${schema.format})` : ""}${range}`;
}

export function SchemaView({ schema }: { schema: JsonSchema }) {
  const union = schema.oneOf ?? schema.anyOf;
  if (!schema.properties && union?.some((s) => s.properties)) {
    return (
      <ol>
        {union.map((option, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: the alternatives have no other identity.
          <li key={i}>
            one of: <SchemaView schema={option} />
          </li>
        ))}
      </ol>
    );
  }
  if (!schema.properties) return <code>{typeOf(schema)}</code>;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">field</th>
          <th scope="col">type</th>
          <th scope="col">about</th>
        </tr>
      </thead>
      <tbody>
        {Object.entries(schema.properties).map(([name, property]) => (
          <tr key={name}>
            <td>
              <code>{name}</code>
              {schema.required?.includes(name) ? "" : "?"}
            </td>
            <td>
              {property.properties || property.items?.properties ? (
                <SchemaView schema={property.items?.properties ? property.items : property} />
              ) : (
                <code>{typeOf(property)}</code>
              )}
              {property.items?.properties && " (a list of these)"}
            </td>
            <td>{property.description ?? property.items?.description ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
